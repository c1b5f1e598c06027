"""Executor configuration errors."""

from __future__ import annotations

from pesgen.errors import ConfigError


class ExecutorConfigError(ConfigError):
    """An executor configuration cannot work; the message names the key at fault."""
