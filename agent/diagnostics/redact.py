"""Secrets never leave the agent: every result, log tail and bundle passes through here.

Two layers. The configuration is rendered with every secret field replaced
(`redacted_config`). Then every text that leaves is scrubbed of each known
secret value (the broker password in its plain and URL-encoded forms, any
password, token or secret of the configuration, the contents of private key
files and password files), of credentials in URLs, and of PEM private key blocks, wherever they
turn up: a log line that quoted a URL, a path, an exception message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import msgspec

from spisync.config import redact_url

if TYPE_CHECKING:
    from agent.config import AgentConfig

__all__ = ["MASK", "Redactor"]

MASK = "***"

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|credential|private|dsn", re.IGNORECASE
)
_KEY_FILE = re.compile(r"key_file$", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@\s/]*@"
)
_PEM_PRIVATE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL
)
# Secrets shorter than this are not scrubbed as free text: masking every "a"
# would garble the output without protecting anything.
_MIN_SECRET = 4


class Redactor:
    """Knows the agent's secrets and removes them from anything that leaves.

    Args:
        config: The agent's configuration.
    """

    def __init__(self, config: AgentConfig) -> None:
        self._config = config
        secrets: set[str] = set()
        _collect(msgspec.to_builtins(config), "", secrets)
        expanded: set[str] = set()
        for secret in secrets:
            expanded.update({secret, quote(secret, safe=""), unquote(secret)})
        self._secrets = sorted(
            (s for s in expanded if len(s) >= _MIN_SECRET), key=len, reverse=True
        )

    def text(self, value: str) -> str:
        """Return `value` with every known secret, URL credential and private key masked."""
        value = _PEM_PRIVATE.sub(f"-----{MASK} PRIVATE KEY-----", value)
        value = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", value)
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """Return JSON-like `value` with every string scrubbed (see `text`)."""
        match value:
            case str():
                return self.text(value)
            case dict():
                return {self.text(str(k)): self.data(v) for k, v in value.items()}
            case list() | tuple():
                return [self.data(v) for v in value]
        return value

    def redacted_config(self) -> dict[str, Any]:
        """The configuration as data, with every secret field masked."""
        return self.data(_masked(msgspec.to_builtins(self._config), ""))  # type: ignore[no-any-return]


def _collect(value: Any, key: str, found: set[str]) -> None:
    match value:
        case dict():
            for k, v in value.items():
                _collect(v, str(k), found)
        case list() | tuple():
            for v in value:
                _collect(v, key, found)
        case str() if value:
            found.update(_secrets_in(key, value))


def _secrets_in(key: str, value: str) -> set[str]:
    found: set[str] = set()
    if _SECRET_KEY.search(key):
        found.add(value)
    if "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            password = None
        if password:
            found.add(password)
    if _KEY_FILE.search(key):
        found.update(_key_material(value))
    elif _SECRET_KEY.search(key) and key.endswith("_file"):
        # A password kept in a file (`[registry] password_file`): its content is the secret.
        found.update(_file_secret(value))
    return found


def _file_secret(path: str) -> set[str]:
    try:
        text = Path(path).read_text(encoding="utf-8").strip("\r\n")
    except (OSError, UnicodeDecodeError):
        return set()
    return {text} if text else set()


def _key_material(path: str) -> set[str]:
    # The key's own lines, so that a key copied anywhere (a log, a bundle) is masked.
    try:
        text = Path(path).read_text(encoding="ascii", errors="ignore")
    except OSError:
        return set()
    return {
        line.strip()
        for line in text.splitlines()
        if len(line.strip()) >= 16 and not line.startswith("-----")
    }


def _masked(value: Any, key: str) -> Any:
    match value:
        case dict():
            return {k: _masked(v, str(k)) for k, v in value.items()}
        case list() | tuple():
            return [_masked(v, key) for v in value]
        case str() if _SECRET_KEY.search(key):
            return MASK if value else value
        case str() if "://" in value:
            return redact_url(value)
    return value
