"""Export to DeePMD-kit 3.x: one frozen PyTorch-backend model file per member, as DP-GEN names them.

Each member's weights go through :mod:`pesgen.model.deepmd_weights` into DeePMD-kit's own
se_e2_a energy model (``deepmd.pt.model.model.get_model``), which is compiled with TorchScript and
saved as ``dp --pt freeze`` saves it. ``graph.000.pth``, ``graph.001.pth``, ... then load in
``deepmd.infer.DeepPot``, ``dp --pt test``, ``dp --pt model-devi``, ``dp --pt compress`` and
LAMMPS ``pair_style deepmd`` with no pesgen installed. With ``min_nbor_dist`` (Å, the shortest
interatomic distance of the training data) the files can be compressed, and ``compress=True``
writes ``graph.NNN.compressed.pth`` beside them (``dp --pt compress``'s tables).

DeePMD-kit is needed to write the files (the ``pesgen[deepmd]`` extra, docs/interop.md); it is
imported only here and only when an export is asked for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pesgen.errors import PesgenError
from pesgen.model.deepmd_weights import deepmd_model_params, deepmd_state_dict
from pesgen.model.stacked_model import StackedDeepPot

#: the DeePMD-kit release whose file layout the export is tested against
DEEPMD_VERSION = "3.2.0"
#: ``dp --pt compress`` defaults: table step (in s = 1/r units) and extrapolation factor
COMPRESS_STRIDE = 0.01
COMPRESS_EXTRAPOLATE = 5
#: the names of the member files an export writes; files so named that it did not write are removed
MEMBER_FILE = re.compile(r"graph\.\d{3,}(\.compressed)?\.pth")


class DeepmdExportError(PesgenError):
    """DeePMD-kit is missing, or a model cannot be written in its format."""


@dataclass
class DeepmdExport:
    """What :func:`write_deepmd` wrote: the member files, the compressed ones, the README; and the
    stale member files of an earlier export it removed."""

    models: list[Path]
    compressed: list[Path] = field(default_factory=list)
    readme: Path | None = None
    removed: list[Path] = field(default_factory=list)


def _deepmd_pt():
    try:
        import deepmd
        from deepmd.pt.model.model import get_model
    except ImportError as err:
        raise DeepmdExportError(
            f"the DeePMD-kit export needs deepmd-kit {DEEPMD_VERSION} with its PyTorch backend ({err}); "
            "install it as docs/interop.md says (pip install 'pesgen[deepmd]' after building deepmd-kit "
            "from source against your torch)") from err
    return deepmd, get_model


def deepmd_member(module: StackedDeepPot, member: int = 0, min_nbor_dist: float | None = None):
    """DeePMD-kit's PyTorch model (a ``torch.nn.Module``) holding ``member``'s weights."""
    _, get_model = _deepmd_pt()
    params = deepmd_model_params(module)
    model = get_model(params)
    if module.hyper.precision == "float64":
        model = model.double()
    state = model.state_dict()
    ours = deepmd_state_dict(module, member)
    missing = sorted(set(ours) - set(state))
    if missing:
        raise DeepmdExportError(f"DeePMD-kit's se_e2_a model has no parameter {missing[0]!r} "
                                f"(deepmd-kit other than {DEEPMD_VERSION}?)")
    state.update({k: v.cpu().to(state[k].dtype) for k, v in ours.items()})
    model.load_state_dict(state)
    model.model_def_script = json.dumps(params)  # what `dp` reads back from a frozen file
    if min_nbor_dist is not None:
        model.min_nbor_dist = torch.tensor(float(min_nbor_dist), dtype=torch.float64)
    model.eval()
    return model


def write_deepmd(module: StackedDeepPot, out_dir: str | Path, *, min_nbor_dist: float | None = None,
                 compress: bool = False, source: str = "") -> DeepmdExport:
    """Write ``graph.000.pth`` ... (one per member) and README.md into ``out_dir``.

    ``compress`` (needs ``min_nbor_dist``, Å) also writes ``graph.NNN.compressed.pth``. Files of
    those names that this export did not write (an earlier export's extra members, or compressed
    files of an earlier model) are removed, so that ``graph.*.pth`` is this ensemble alone.
    """
    deepmd, _ = _deepmd_pt()
    if compress and min_nbor_dist is None:
        raise DeepmdExportError("compression needs the shortest interatomic distance of the training data "
                                "(min_nbor_dist, Å): export from a run directory or give it")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = DeepmdExport(models=[])
    for k in range(module.n_members):
        path = out / f"graph.{k:03d}.pth"
        scripted = torch.jit.script(deepmd_member(module, k, min_nbor_dist))
        torch.jit.save(scripted, str(path), {"data_modifier.pth": ""})  # as `dp --pt freeze` saves it
        result.models.append(path)
    if compress:
        from deepmd.pt.entrypoints.compress import enable_compression

        for path in result.models:
            target = path.with_name(path.name.replace(".pth", ".compressed.pth"))
            enable_compression(str(path), str(target), stride=COMPRESS_STRIDE, extrapolate=COMPRESS_EXTRAPOLATE)
            result.compressed.append(target)
    result.removed = remove_stale_members(out, result.models + result.compressed)
    result.readme = out / "README.md"
    result.readme.write_text(readme_text(module, result, min_nbor_dist, source, deepmd.__version__))
    return result


def remove_stale_members(out: Path, written: list[Path]) -> list[Path]:
    """Delete the files in ``out`` named as an export names its member files (:data:`MEMBER_FILE`)
    that are not in ``written``; nothing else (other names, folders) is touched. Returns them."""
    keep = {p.name for p in written}
    stale = sorted(p for p in out.iterdir() if MEMBER_FILE.fullmatch(p.name) and p.name not in keep
                   and (p.is_symlink() or p.is_file()))
    for path in stale:
        path.unlink()
    return stale


def readme_text(module: StackedDeepPot, export: DeepmdExport, min_nbor_dist: float | None, source: str,
                deepmd_version: str) -> str:
    """The README of an export folder: what the files are and the commands that use them."""
    h = module.hyper
    names = " ".join(p.name for p in export.models)
    first = export.models[0].name
    species = " ".join(h.type_map)
    compressed = (
        f"Compressed models (`dp --pt compress`, table step {COMPRESS_STRIDE}, extrapolate "
        f"{COMPRESS_EXTRAPOLATE}): {' '.join(p.name for p in export.compressed)}.\n"
        if export.compressed else
        (f"Compress one (tables from {min_nbor_dist:.4f} Å): `dp --pt compress -i {first} -o "
         f"{first.replace('.pth', '.compressed.pth')}`.\n" if min_nbor_dist is not None else
         "These files hold no min_nbor_dist: `dp --pt compress` needs `-t input.json` naming the training data.\n"))
    return f"""# DeePMD-kit models exported by pesgen

{len(export.models)} member(s) of {source or 'a pesgen ensemble'}: {names}
(DeePMD-kit {deepmd_version}, PyTorch backend, TorchScript, `dp --pt freeze`'s format).
se_e2_a, type_map {list(h.type_map)}, rcut {h.rcut} Å, rcut_smth {h.rcut_smth} Å, sel {list(h.sel)},
precision {h.precision}; min_nbor_dist {f'{min_nbor_dist:.4f} Å' if min_nbor_dist is not None else 'not set'}.
Units: Å, eV, eV/Å. They need DeePMD-kit (not pesgen) to run.

Python:

    from deepmd.infer import DeepPot
    dp = DeepPot("{first}")
    e, f, v = dp.eval(coords.reshape(1, -1), cell.reshape(1, 9), atom_types)  # cell=None: no PBC

Errors on DeePMD-kit data (`pesgen data export STORE --format deepmd-npy --out DATA`):

    dp --pt test -m {first} -s DATA

Model deviation of the ensemble (DP-GEN's ε, eV/Å) on a trajectory or data:

    dp --pt model-devi -m {names} -s DATA -o model_devi.out

{compressed}
LAMMPS (built with DeePMD-kit's plugin or `pair_style deepmd` compiled in):

    pair_style deepmd {first}
    pair_coeff * * {species}

`pair_coeff * * {species}` maps LAMMPS atom types 1..{len(h.type_map)} to these species; for the
ensemble deviation during MD: `pair_style deepmd {names} out_freq 100 out_file model_devi.out`.
"""
