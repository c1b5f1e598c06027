"""Ensemble training: DeePMD-style loss and prefactor schedule, learning-rate decay, trainer.

The entry point is :func:`pesgen.training.trainer.train`, exported as ``pesgen.train``.
"""
