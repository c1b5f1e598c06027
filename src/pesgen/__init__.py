"""pesgen: uniformly accurate machine-learned interatomic potentials by active learning.

Public API::

    import pesgen
    m = pesgen.DeepPot(type_map=["Al", "Mg"], rcut=6.0, seed=0)
    ens = pesgen.Ensemble([pesgen.DeepPot(type_map=["Al", "Mg"], rcut=6.0, seed=s) for s in range(4)])
    ens.save("ens.pt"); pesgen.load("ens.pt")
    calc = pesgen.PesgenCalculator(ens)   # ASE calculator
    pesgen.check_potential(my_potential)  # does a potential of your own honour the contract?
    result = pesgen.run("config.toml", "run-al")   # the active-learning loop (also a dict or a RunConfig)
    result.converged, result.model, result.audit   # a pesgen.RunResult
"""

from pesgen.version import __version__

__all__ = ["DeepPot", "Ensemble", "PesgenCalculator", "Potential", "RunConfig", "RunResult", "TrainSettings",
           "check_potential", "load", "run", "train", "__version__"]

# Imported lazily so that `pesgen --help` and the light sub-packages do not pay for torch.
_LAZY = {
    "DeepPot": "pesgen.model.deeppot",
    "Ensemble": "pesgen.model.ensemble",
    "PesgenCalculator": "pesgen.calculator",
    "Potential": "pesgen.model.contract",
    "check_potential": "pesgen.model.contract",
    "load": "pesgen.loop.rundir",  # a model file, or a run directory's latest ensemble
    "run": "pesgen.loop.runner",
    "RunConfig": "pesgen.loop.config",
    "RunResult": "pesgen.loop.runner",
    "train": "pesgen.training.trainer",
    "TrainSettings": "pesgen.training.config",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pesgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
