"""Executor errors: a configuration that cannot work, and a cluster without workers."""

from __future__ import annotations

from pesgen.errors import ConfigError, PesgenError


class ExecutorConfigError(ConfigError):
    """An executor configuration cannot work; the message names the key at fault."""


class ExecutorUnavailable(PesgenError):
    """No worker came up within the start-up time limit, or none has been connected for longer than
    the run's time limit while tasks wait (jobs never started, or ended); the message says which."""
