"""``report_section(results) -> str``: the validation as an HTML fragment for the HTML report."""

from __future__ import annotations

import base64
import html

from pesgen.validate.plots import caption, figures, png_bytes
from pesgen.validate.table import _fmt


def report_section(results: dict) -> str:
    """An HTML ``<section>``: the side-by-side table, errors, and every plot inlined as PNG."""
    esc = html.escape
    parts = [f'<section class="pesgen-validation"><h2>Materials properties: {esc(str(results["model"]))} '
             f'vs {esc(str(results["reference"]))}</h2>',
             "<table><thead><tr><th>group</th><th>element</th><th>quantity</th><th>unit</th><th>model</th>"
             "<th>reference</th><th>model − reference</th></tr></thead><tbody>"]
    for row in results["rows"]:
        cells = [row["group"], row["element"], row["quantity"], row["unit"], _fmt(row["model"], row["unit"]),
                 _fmt(row["reference"], row["unit"]), _fmt(row["difference"], row["unit"])]
        parts.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>")
    parts.append("</tbody></table>")
    if results.get("errors"):
        parts.append("<ul class=\"errors\">")
        for err in results["errors"]:
            parts.append(f"<li>{esc(err['group'])} {esc(err['element'])} ({esc(err['side'])}): "
                         f"{esc(err['message'])}</li>")
        parts.append("</ul>")
    for name, fig in figures(results).items():
        data = base64.b64encode(png_bytes(fig)).decode()
        parts.append(f'<figure><img alt="{esc(caption(name))}" src="data:image/png;base64,{data}"/>'
                     f"<figcaption>{esc(caption(name))}</figcaption></figure>")
    parts.append("</section>")
    return "\n".join(parts)
