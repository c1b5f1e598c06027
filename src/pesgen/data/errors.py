"""Exceptions of the labeled-data store and its import/export.

Every message names the file (and, where it helps, the frame or key) at fault.
"""

from __future__ import annotations

from pesgen.errors import PesgenError


class DataError(PesgenError):
    """Base class of all errors raised by :mod:`pesgen.data`."""


class StoreError(DataError):
    """The store file is missing, corrupt, not a store, read-only, or was given bad frames."""


class DataImportError(DataError):
    """A file or folder to import is unreadable, of an unknown format, or holds unlabeled frames."""


class DataExportError(DataError):
    """An export could not be written (bad target folder, unknown format, inconsistent frames)."""
