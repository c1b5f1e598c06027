"""Ensemble training: DeePMD-style loss and prefactor schedule, learning-rate decay, trainer."""
