"""Exploration: initial structures, batched MD, deviation records, selection, stages."""
