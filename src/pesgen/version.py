"""The installed pesgen version (``0.0.0+unknown`` when run from a source tree never installed)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pesgen")
except PackageNotFoundError:
    __version__ = "0.0.0+unknown"
