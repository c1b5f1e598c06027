"""The root of pesgen's exceptions and the one configuration error.

Every error type of every sub-package derives from :class:`PesgenError`; the ``pesgen`` command
prints its message on one line per problem and exits with status 1 (see :mod:`pesgen.cli`).
"""

from __future__ import annotations


class PesgenError(Exception):
    """Base class of all errors pesgen raises on purpose (bad input, failed step, bad file)."""


class ConfigError(PesgenError, ValueError):
    """A configuration (a TOML file, a table of it, or a spec given on the command line) is invalid.

    ``ConfigError(path, problems)`` lists every problem as ``(key path, message)``, e.g.
    ``("train.numb_steps", "expected a valid integer, got 'many'")``; ``ConfigError(message)``
    is one problem without a file or key. The text is one line per problem:
    ``<path>: key '<key>': <message>``.

    Attributes:
        path: the file (or table) at fault, "" when unknown.
        problems: the ``(key path, message)`` pairs.
    """

    def __init__(self, path: object, problems: list[tuple[str, str]] | None = None) -> None:
        if problems is None:
            path, problems = "", [("", str(path))]
        self.path = str(path)
        self.problems = list(problems)
        where = f"{self.path}: " if self.path else ""
        super().__init__("\n".join(f"{where}key '{key}': {msg}" if key else f"{where}{msg}" for key, msg in problems))
