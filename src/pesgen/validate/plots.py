"""PNG plots of a validation (matplotlib, Agg): EOS (Fig. 4), GSF, phonons (Fig. 2), g(r)
(Fig. 3), surface energies (Fig. 5), alloys (Fig. 6), coexistence trials of the melting point.
Model: solid lines / circles; reference: dashed lines / crosses."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _labels(results: dict) -> tuple[str, str]:
    return f"model ({results['model']})", f"reference ({results['reference']})"


def plot_eos(results: dict, element: str):
    curves = {k: v for k, v in results["curves"].get("eos", {}).items() if k.split()[0] == element}
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    lm, lr = _labels(results)
    for k, (key, data) in enumerate(sorted(curves.items())):
        color = f"C{k}"
        name = key.split()[1]
        if "model" in data:
            ax.plot(data["model"]["volume"], data["model"]["energy"], "-", color=color, label=f"{name} model")
        if "reference" in data:
            ax.plot(data["reference"]["volume"], data["reference"]["energy"], "x--", color=color, ms=4, lw=0.8,
                    label=f"{name} reference")
    ax.set_xlabel("volume (Å$^3$/atom)")
    ax.set_ylabel("energy (eV/atom)")
    ax.set_title(f"{element} EOS: solid {lm}, dashed {lr}", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    return fig


def _plot_pairs(results: dict, name: str, x: str, y: str, styles: tuple[str, str], xlabel: str, ylabel: str):
    """One line per curve of ``results["curves"][name]`` and side, model solid, reference dashed."""
    curves = results["curves"].get(name, {})
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for k, (key, data) in enumerate(sorted(curves.items())):
        for side, style in zip(("model", "reference"), styles, strict=True):
            if side in data:
                ax.plot(data[side][x], data[side][y], style, color=f"C{k}", label=f"{key} {side}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    return fig


def plot_gsf(results: dict):
    return _plot_pairs(results, "gsf", "u", "energy", ("o-", "x--"), "displacement (partial Burgers vectors)",
                       "GSF energy (J/m$^2$)")


def plot_phonons(results: dict, key: str):
    data = results["curves"].get("phonons", {}).get(key)
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for side, style, color in (("model", "-", "C0"), ("reference", "--", "C3")):
        if side in data:
            d = data[side]
            freqs = np.array(d["frequencies"])
            for b in range(freqs.shape[1]):
                ax.plot(d["x"], freqs[:, b], style, color=color, lw=1, label=side if b == 0 else None)
    ref = data.get("model") or data.get("reference")
    for x in ref["label_x"]:
        ax.axvline(x, color="0.7", lw=0.5)
    ax.set_xticks(ref["label_x"], [lab.replace("G", "Γ") for lab in ref["labels"]])
    ax.set_xlim(ref["x"][0], ref["x"][-1])
    ax.set_ylabel("frequency (THz)")
    ax.set_title(f"{key} phonons", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def plot_rdf(results: dict):
    return _plot_pairs(results, "rdf", "rdf_r", "rdf", ("-", "--"), "r (Å)", "g(r)")


def plot_melting(results: dict, element: str):
    """Coexistence trials: potential energy per atom vs time, one line per trial temperature."""
    data = results["curves"].get("melting", {}).get(element)
    if not data:
        return None
    sides = [side for side in ("model", "reference") if side in data]
    fig, axes = plt.subplots(1, len(sides), figsize=(5 * len(sides), 3.6), squeeze=False)
    for ax, side in zip(axes[0], sides, strict=True):
        res = data[side]
        cmap = plt.get_cmap("coolwarm")
        temps = [t["temperature"] for t in res["trials"]]
        lo, hi = min(temps), max(temps)
        for t in res["trials"]:
            x = np.array(t["time"]) / 1000.0
            e = np.array(t["energy"])
            ax.plot(x, (e - e[0]) * 1000, color=cmap((t["temperature"] - lo) / ((hi - lo) or 1)),
                    label=f"{t['temperature']:.0f} K ({'melts' if t['melts'] else 'freezes'})")
        ax.set_xlabel("time (ps)")
        ax.set_ylabel("E_pot - E_pot(0) (meV/atom)")
        ax.set_title(f"{element} {side}: T_m = {res['melting_point']:.0f} ± {res['uncertainty']:.0f} K",
                     fontsize=9)
        ax.legend(fontsize=6)
    return fig


def _short(quantity: str) -> str:
    """``E_s Al (111) relaxed`` -> ``(111) relaxed``: the part of a quantity that tells points apart."""
    return quantity[quantity.index("("):] if "(" in quantity else quantity


def _side_labels(ax, points: list[tuple[float, float, str]]) -> None:
    """Label each point in a column right of the axes, in the order of the points' heights and
    evenly spaced, with a thin line to its point: labels never overlap, however close the points."""
    order = sorted(range(len(points)), key=lambda k: points[k][1])
    n = len(points)
    for rank, k in enumerate(order):
        x, y, text = points[k]
        ax.annotate(text, (x, y), xytext=(1.04, (rank + 0.5) / n), textcoords="axes fraction", fontsize=6,
                    va="center", arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.6"}, annotation_clip=False)


def plot_parity(results: dict, group: str, unit: str, title: str, contains: str = ""):
    rows = [r for r in results["rows"] if r["group"] == group and r["unit"] == unit and contains in r["quantity"]
            and r["model"] is not None and r["reference"] is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    ref = np.array([r["reference"] for r in rows])
    mod = np.array([r["model"] for r in rows])
    ax.plot(ref, mod, "o", ms=5)
    lo, hi = min(ref.min(), mod.min()), max(ref.max(), mod.max())
    pad = 0.05 * (hi - lo or 1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k-", lw=0.6)
    _side_labels(ax, [(r["reference"], r["model"], _short(r["quantity"])) for r in rows])
    ax.set_xlabel(f"reference ({unit})")
    ax.set_ylabel(f"model ({unit})")
    ax.set_title(title, fontsize=9)
    return fig


def caption(name: str) -> str:
    """What a figure of :func:`figures` shows, from its file stem (``eos_Al`` -> ``Al: energy
    against volume of each crystal (equation of state)``)."""
    head, _, rest = name.partition("_")
    what = {"eos": "energy against volume of each crystal (equation of state)",
            "phonons": "phonon dispersion along the high-symmetry path",
            "melting": "coexistence trials: potential energy against time at each trial temperature",
            "gsf": "generalized stacking-fault energy along the slip path",
            "rdf": "radial distribution function g(r) of the liquid",
            "surfaces": "surface formation energies, model against reference",
            "alloys": {"formation": "formation energies of the ordered alloys, model against reference",
                       "vacancy": "vacancy formation energies in the alloys, model against reference"}.get(rest, "")}
    text = what.get(head, "")
    if head in ("eos", "phonons", "melting") and rest:
        return f"{rest.replace('_', ' ')}: {text}"
    return text or name.replace("_", " ")


def figures(results: dict) -> dict[str, object]:
    """All figures of ``results`` by file stem (:func:`caption` says what each shows)."""
    figs: dict[str, object] = {}
    for element in results["elements"]:
        figs[f"eos_{element}"] = plot_eos(results, element)
    figs["gsf"] = plot_gsf(results)
    for key in results["curves"].get("phonons", {}):
        figs[f"phonons_{key.replace(' ', '_')}"] = plot_phonons(results, key)
    figs["rdf"] = plot_rdf(results)
    for element in results["curves"].get("melting", {}):
        figs[f"melting_{element}"] = plot_melting(results, element)
    figs["surfaces"] = plot_parity(results, "surfaces", "J/m^2", "surface formation energies", "relaxed")
    figs["alloys_formation"] = plot_parity(results, "alloys", "eV/atom", "alloy formation energies")
    figs["alloys_vacancy"] = plot_parity(results, "alloys", "eV", "vacancy formation energies in alloys")
    return {k: v for k, v in figs.items() if v is not None}


def save_plots(results: dict, folder: str | Path) -> list[Path]:
    """Write every figure as ``folder/<name>.png`` (150 dpi); returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures(results).items():
        path = folder / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=150)
        plt.close(fig)
        paths.append(path)
    return paths


def png_bytes(fig) -> bytes:
    """A figure as PNG bytes (closes it)."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
