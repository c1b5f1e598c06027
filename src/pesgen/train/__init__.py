"""Ensemble training: DeePMD-style loss and prefactor schedule, learning-rate decay, trainer.

``pesgen.train(data, config)`` is the public entry point. Because Python binds the attribute
``pesgen.train`` to this sub-package as soon as any of its modules is imported, the sub-package
itself is made callable: calling it calls :func:`pesgen.train.trainer.train`.
"""

import sys
import types

from pesgen.train.config import ModelSettings, TrainSettings
from pesgen.train.trainer import train

__all__ = ["ModelSettings", "TrainSettings", "train"]


class _CallableTrainPackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableTrainPackage
