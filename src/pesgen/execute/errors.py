"""Executor configuration errors."""

from __future__ import annotations


class ExecutorConfigError(ValueError):
    """An executor configuration cannot work; the message names the key at fault."""
