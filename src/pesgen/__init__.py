"""pesgen: uniformly accurate machine-learned interatomic potentials by active learning.

Public API::

    import pesgen
    m = pesgen.DeepPot(type_map=["Al", "Mg"], rcut=6.0, seed=0)
    ens = pesgen.Ensemble([pesgen.DeepPot(type_map=["Al", "Mg"], rcut=6.0, seed=s) for s in range(4)])
    ens.save("ens.pt"); pesgen.load("ens.pt")
    calc = ens.calculator()
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pesgen")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["DeepPot", "Ensemble", "TrainSettings", "load", "train", "__version__"]

# Imported lazily so that `pesgen --help` and the light sub-packages do not pay for torch.
_LAZY = {
    "DeepPot": ("pesgen.model.deeppot", "DeepPot"),
    "Ensemble": ("pesgen.model.ensemble", "Ensemble"),
    "load": ("pesgen.model.io", "load"),
    "train": ("pesgen.train", None),  # the sub-package, callable: pesgen.train(data, config)
    "TrainSettings": ("pesgen.train.config", "TrainSettings"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = importlib.import_module(module)
        value = value if attr is None else getattr(value, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pesgen' has no attribute {name!r}")
