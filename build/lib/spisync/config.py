"""Loading TOML configuration into frozen, typed objects.

Each role defines its own `msgspec.Struct` (see `agent.config`, `hub.config`,
`archive.config`); this module reads the file, applies `SPISYNC_<SECTION>_<KEY>`
environment overrides and turns every problem into a `ConfigError` that names
the file, the key and what was expected.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import msgspec

from spisync.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["BrokerConfig", "load_config", "redact_url"]

T = TypeVar("T")

_ENV_PREFIX = "SPISYNC_"
_PATH_IN_ERROR = re.compile(r" - at `\$\.?([^`]*)`$")


def redact_url(url: str) -> str:
    """Return `url` with its password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class BrokerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to reach the broker.

    Attributes:
        url: `amqp://` or `amqps://` URL with user, password and vhost.
        ca_file: CA bundle to verify the broker's certificate (amqps).
        cert_file: Client certificate for mutual TLS.
        key_file: Private key of the client certificate.
        management_url: Base URL of the management HTTP API; by default the
            AMQP host on port 15672 with the same credentials.
    """

    url: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    management_url: str | None = None

    def __post_init__(self) -> None:
        """Check the URL's scheme and that it names a user."""
        parts = urlsplit(self.url)
        if parts.scheme not in {"amqp", "amqps"}:
            raise ValueError(f"url must start with amqp:// or amqps://, got {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("url has no host")

    def __repr__(self) -> str:
        return f"BrokerConfig(url={redact_url(self.url)!r}, ca_file={self.ca_file!r})"

    __str__ = __repr__

    @property
    def vhost(self) -> str:
        """The virtual host the URL names ('/' when it names none)."""
        path = urlsplit(self.url).path
        return unquote(path[1:]) if len(path) > 1 else "/"

    @property
    def username(self) -> str:
        """The user the URL logs in as."""
        return urlsplit(self.url).username or "guest"

    @property
    def password(self) -> str:
        """The password the URL carries."""
        return urlsplit(self.url).password or "guest"

    @property
    def api_url(self) -> str:
        """The management API's base URL, without credentials."""
        if self.management_url:
            return self.management_url.rstrip("/")
        parts = urlsplit(self.url)
        scheme = "https" if parts.scheme == "amqps" else "http"
        return f"{scheme}://{parts.hostname}:15672"


def _env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Apply `SPISYNC_<SECTION>_<KEY>=value` to the top two levels of `data`.

    Returns:
        The variable that set each overridden key, by `section.key`.
    """
    applied: dict[str, str] = {}
    for name, raw in environ.items():
        if not name.startswith(_ENV_PREFIX):
            continue
        section, _, key = name.removeprefix(_ENV_PREFIX).lower().partition("_")
        if not key or section not in data or not isinstance(data[section], dict):
            continue
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        data[section][key] = value
        applied[f"{section}.{key}"] = name
    return applied


_LINE_IN_ERROR = re.compile(r"at line (\d+)")


def _toml_error(source: str, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    """Turn a TOML syntax error into a ConfigError; explain backslashes in basic strings."""
    match = _LINE_IN_ERROR.search(str(exc))
    line = text.splitlines()[int(match.group(1)) - 1] if match else ""
    if "\\" in line and '"' in line and ("escape" in str(exc).lower() or "hex" in str(exc)):
        key, _, value = line.partition("=")
        literal = value.strip().strip('"')
        return ConfigError(
            source,
            "",
            f"is not valid TOML: {exc}: a backslash in double quotes starts an escape",
            fix=(
                "write Windows paths in single quotes (a TOML literal string), "
                f"for example {key.strip()} = '{literal}'"
            ),
        )
    return ConfigError(source, "", f"is not valid TOML: {exc}")


def load_config(
    path: Path,
    config_type: type[T],
    *,
    environ: Mapping[str, str] | None = None,
) -> T:
    """Read `path` as TOML and convert it into `config_type`.

    Args:
        path: The TOML file.
        config_type: A `msgspec.Struct` type whose fields are the sections.
        environ: Environment for `SPISYNC_*` overrides; `os.environ` by default.

    Raises:
        ConfigError: Naming the file, the key and what is wrong.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, "", "file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(source, text, exc) from None
    overridden = _env_overrides(data, os.environ if environ is None else environ)
    try:
        return msgspec.convert(data, config_type, str_keys=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _PATH_IN_ERROR.search(message)
        key = match.group(1) if match else ""
        problem = _PATH_IN_ERROR.sub("", message)
        # A wrong value set by SPISYNC_* is named by its variable: the file is fine. A
        # section's own check (`__post_init__`) reports the section: blame its override.
        variable = next(
            (
                var
                for k, var in overridden.items()
                if key == k or key.startswith(f"{k}.") or k.startswith(f"{key}.")
            ),
            None,
        )
        if variable is not None:
            raise ConfigError(variable, key, problem) from None
        raise ConfigError(source, key, problem) from None
