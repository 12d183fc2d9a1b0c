"""Safe relative paths: the only form in which a file's location travels.

A path on the wire is relative to a watched folder, `/`-separated, in Unicode
NFC (macOS and some SMB servers hand out NFD; both must arrive as one name).
"""

from __future__ import annotations

import unicodedata

from protocol.errors import UnsafePathError

__all__ = ["MAX_COMPONENT_BYTES", "MAX_PATH_BYTES", "is_nfc_safe_path", "safe_relative_path"]

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4096

# Characters Windows forbids in names; a town hall's share is usually SMB.
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*')


def safe_relative_path(raw: str) -> str:
    """Normalise `raw` to NFC and check that it is a safe relative path.

    Args:
        raw: A `/`-separated path relative to a watched folder.

    Returns:
        The NFC-normalised path.

    Raises:
        UnsafePathError: If the path is empty, absolute, contains `..` or `.`
            components, empty components, backslashes, NUL or other control
            characters, characters Windows forbids, or a component longer than
            255 bytes in UTF-8.
    """
    if not raw:
        raise UnsafePathError(raw, "is empty")
    path = unicodedata.normalize("NFC", raw)
    if path.startswith("/"):
        raise UnsafePathError(raw, "is absolute")
    if "\\" in path:
        raise UnsafePathError(raw, "contains a backslash")
    for char in path:
        if unicodedata.category(char) in {"Cc", "Cf", "Cs"}:
            raise UnsafePathError(raw, f"contains control character U+{ord(char):04X}")
        if char in _WINDOWS_FORBIDDEN:
            raise UnsafePathError(raw, f"contains {char!r}, which Windows does not allow")
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise UnsafePathError(raw, f"is longer than {MAX_PATH_BYTES} bytes")
    for component in path.split("/"):
        _check_component(raw, component)
    return path


def _check_component(raw: str, component: str) -> None:
    if component in {"", ".", ".."}:
        raise UnsafePathError(raw, f"has an empty, '.' or '..' component {component!r}")
    if len(component.encode("utf-8")) > MAX_COMPONENT_BYTES:
        raise UnsafePathError(
            raw, f"component {component[:40]!r}… is longer than {MAX_COMPONENT_BYTES} bytes"
        )
    if component.endswith((" ", ".")):
        raise UnsafePathError(raw, f"component {component!r} ends with a space or dot")


def is_nfc_safe_path(value: str) -> bool:
    """Tell whether `value` is already a safe path in NFC form."""
    try:
        return safe_relative_path(value) == value
    except UnsafePathError:
        return False
