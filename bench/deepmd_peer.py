"""DeePMD-kit peers of a pesgen model for the benchmarks: the same weights in DeePMD-kit's PyTorch backend.

``deepmd_models(module, folder, compress=...)`` exports the members with
:func:`pesgen.model.deepmd_export.write_deepmd` (precision = the module's, so float32 models give
DeePMD-kit ``"precision": "float32"`` models; frozen as ``dp --pt freeze`` freezes, compressed by
DeePMD-kit's own ``dp --pt compress`` code with step 0.01 and extrapolate 5 when ``compress``,
with ``min_nbor_dist`` Å as the tables' range) and loads them as ``deepmd.infer.DeepPot``.
Returns None, with the reason printed, when DeePMD-kit cannot be imported (``pesgen[deepmd]``).
"""

from __future__ import annotations

from pathlib import Path


def deepmd_models(module, folder: Path, compress: bool = False, min_nbor_dist: float | None = None):
    """``deepmd.infer.DeepPot`` of each of ``module``'s members, compressed or not."""
    from pesgen.model.deepmd_export import DeepmdExportError, write_deepmd

    try:
        from deepmd.infer import DeepPot

        export = write_deepmd(module, folder, min_nbor_dist=min_nbor_dist, compress=compress)
    except (ImportError, DeepmdExportError) as err:
        print(f"DeePMD-kit not usable ({err}); DeePMD-kit peer skipped.")
        return None
    return [DeepPot(str(path)) for path in (export.compressed if compress else export.models)]
