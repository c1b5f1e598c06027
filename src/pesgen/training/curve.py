"""The learning curve saved with a trained ensemble, as a table."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def learning_curve_table(metadata: dict[str, Any], max_rows: int = 25) -> Table:
    """Per-point RMSEs (the worst member) of ``metadata["learning_curve"]``: forces eV/Å, energies and
    virials per atom meV/atom."""
    curve = metadata.get("learning_curve", [])
    table = Table(title="learning curve (worst member; RMSE)")
    for col in ("step", "lr", "E trn (meV/atom)", "F trn (eV/Å)", "E val (meV/atom)", "F val (eV/Å)",
                "W val (meV/atom)"):
        table.add_column(col, justify="right")
    stride = max(1, len(curve) // max_rows)
    rows = curve[::stride]
    if curve and rows[-1] is not curve[-1]:
        rows.append(curve[-1])

    def span(point: dict, key: str) -> str:
        values = point.get(key)
        if not values:
            return "-"
        if key.startswith("rmse_f"):
            return f"{max(values):.4f}"
        return f"{1000 * max(values):.2f}"    # energy and virial per atom: eV/atom -> meV/atom

    for point in rows:
        table.add_row(str(point["step"]), f"{point['lr']:.2e}", span(point, "rmse_e_trn"), span(point, "rmse_f_trn"),
                      span(point, "rmse_e_val"), span(point, "rmse_f_val"), span(point, "rmse_v_val"))
    return table
