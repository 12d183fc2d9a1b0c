"""`[console]` in HUB.toml: where the console listens and the thresholds of its status colours."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec

if TYPE_CHECKING:
    from hub.config import HubConfig

__all__ = ["ConsoleConfig", "thresholds_of"]


class ConsoleConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[console]`: the operator console; the hub serves it only when this section is present.

    Attributes:
        listen: `HOST:PORT` to listen on, e.g. `127.0.0.1:8080` behind a reverse proxy.
        cert_file: PEM certificate for HTTPS (with `key_file`); plain HTTP when unset.
        key_file: PEM private key of `cert_file`.
        metrics_token: Bearer token that `/metrics` requires; open without one when unset
            (never shown in `repr`).
        heartbeat_warning_s: A heartbeat older than this turns an obec's row to warning.
        heartbeat_error_s: A heartbeat older than this (or none at all) turns it to error.
        backlog_warning_s: An agent's oldest unsent change older than this is a warning.
        backlog_error_s: ... and older than this an error.
        queue_warning: Messages waiting in the obec's hub queue above which its row warns.
        session_ttl_s: How long a login lasts.
        login_max_failures: Failed logins of one name or address within
            `login_window_s` after which further attempts are refused until the window passes.
        login_window_s: The window of `login_max_failures`.
        refresh_s: How often open pages update themselves.
        public_url: The URL operators use (behind a proxy), printed in logs; by default
            built from `listen`.
        secure_cookies: Mark the session cookie `Secure`; by default when HTTPS is on.
            Set it to true behind a reverse proxy that terminates TLS.
    """

    listen: Annotated[str, msgspec.Meta(pattern=r"^[^\s:]*:[0-9]{1,5}$")]
    cert_file: str | None = None
    key_file: str | None = None
    metrics_token: str | None = None
    heartbeat_warning_s: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    heartbeat_error_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0
    backlog_warning_s: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    backlog_error_s: Annotated[float, msgspec.Meta(gt=0)] = 24 * 3600.0
    queue_warning: Annotated[int, msgspec.Meta(ge=0)] = 1000
    session_ttl_s: Annotated[float, msgspec.Meta(gt=0)] = 8 * 3600.0
    login_max_failures: Annotated[int, msgspec.Meta(ge=1)] = 5
    login_window_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0
    refresh_s: Annotated[float, msgspec.Meta(ge=0.2, le=3600)] = 5.0
    public_url: str | None = None
    secure_cookies: bool | None = None

    def __post_init__(self) -> None:
        """Both or neither of `cert_file` and `key_file`; warning before error."""
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be set together")
        if self.heartbeat_warning_s >= self.heartbeat_error_s:
            raise ValueError("heartbeat_warning_s must be less than heartbeat_error_s")
        if self.backlog_warning_s >= self.backlog_error_s:
            raise ValueError("backlog_warning_s must be less than backlog_error_s")

    def __repr__(self) -> str:
        token = "***" if self.metrics_token else None
        return f"ConsoleConfig(listen={self.listen!r}, metrics_token={token!r})"

    __str__ = __repr__

    @property
    def host(self) -> str:
        """The host part of `listen` (all interfaces when empty)."""
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        """The port of `listen`."""
        return int(self.listen.rpartition(":")[2])

    @property
    def https(self) -> bool:
        """Whether the console serves HTTPS itself."""
        return self.cert_file is not None

    @property
    def url(self) -> str:
        """Where operators reach it: `public_url`, or built from `listen`."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host or "127.0.0.1"
        return f"{'https' if self.https else 'http'}://{host}:{self.port}"


_DEFAULTS = ConsoleConfig(listen="127.0.0.1:0")


def thresholds_of(config: HubConfig) -> ConsoleConfig:
    """Return `[console]`, or its defaults when absent (`hub status` needs the thresholds)."""
    return config.console if config.console is not None else _DEFAULTS
