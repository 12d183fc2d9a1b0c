"""The installed spisync version, as pip recorded it."""

from __future__ import annotations

from importlib import metadata

__all__ = ["spisync_version"]


def spisync_version() -> str:
    """Return the installed spisync version (`0+unknown` when run from an uninstalled tree)."""
    try:
        return metadata.version("spisync")
    except metadata.PackageNotFoundError:
        return "0+unknown"
