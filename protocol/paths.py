"""Safe relative paths: the only form in which a file's location travels.

A path on the wire is relative to a watched folder, `/`-separated, in Unicode
NFC (macOS and some SMB servers hand out NFD; both must arrive as one name).
Town halls keep their files on Windows and SMB shares, so a name must also be
one that Windows can hold: no reserved device names (`CON`, `NUL.txt`, `COM¹`),
no trailing dots or spaces, nothing that turns into `.`, `..` or a separator
under compatibility normalisation (full-width dots U+FF0E, the full-width
solidus U+FF0F) and no look-alike slashes (U+2215 division slash, U+2044
fraction slash). Names that differ only in case or by compatibility characters are
legal one by one but cannot live side by side on such a share: `collision_key`
tells them apart for the agent, which reports them.
"""

from __future__ import annotations

import unicodedata

from protocol.errors import UnsafePathError

__all__ = [
    "MAX_COMPONENT_BYTES",
    "MAX_PATH_BYTES",
    "collision_key",
    "is_nfc_safe_path",
    "is_windows_reserved",
    "safe_relative_path",
]

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4096

# Characters Windows forbids in names; a town hall's share is usually SMB.
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*')

# Device names Windows reserves, with or without an extension, in any case.
# The superscript digits are reserved too (Windows maps them to 1, 2, 3).
_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789¹²³"}
)

# Characters that look like a path separator to a reader (and to some tools)
# without being one: a name holding one could pass for a different folder.
_LOOKALIKE_SEPARATORS = frozenset(
    "\u2215\u2044\uff0f\u29f8\u2571\u2f03\u2216\u29f5\u29f9\u2572\ufe68\uff3c"
)


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
    if is_windows_reserved(component):
        raise UnsafePathError(
            raw, f"component {component!r} is a device name Windows reserves (CON, NUL, COM1, …)"
        )
    for char in component:
        if char in _LOOKALIKE_SEPARATORS:
            raise UnsafePathError(
                raw, f"component {component!r} contains U+{ord(char):04X}, which looks like a slash"
            )
    compatible = unicodedata.normalize("NFKC", component)
    if compatible != component:
        if compatible in {".", ".."} or "/" in compatible or "\\" in compatible:
            raise UnsafePathError(
                raw,
                f"component {component!r} reads as {compatible!r} after compatibility "
                "normalisation (NFKC)",
            )
        if compatible.endswith((" ", ".")) or is_windows_reserved(compatible):
            raise UnsafePathError(
                raw,
                f"component {component!r} reads as {compatible!r} after compatibility "
                "normalisation (NFKC), a name Windows cannot hold",
            )


def is_windows_reserved(component: str) -> bool:
    """Tell whether `component` is a device name Windows reserves (`CON`, `nul.txt`, `COM¹`)."""
    stem = component.split(".", 1)[0].rstrip(" ")
    return stem.upper() in _RESERVED_NAMES


def collision_key(path: str) -> str:
    """Return the key under which two paths would be one file on a Windows or SMB share.

    Paths whose keys are equal differ only in case or by compatibility
    characters (NFKC with case folding, as Unicode's NFKC_Casefold).
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", path).casefold())


def is_nfc_safe_path(value: str) -> bool:
    """Tell whether `value` is already a safe path in NFC form."""
    try:
        return safe_relative_path(value) == value
    except UnsafePathError:
        return False
