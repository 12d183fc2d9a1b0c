"""Runtime failures an operator can act on: one line saying what broke and how to fix it.

`explain` turns a known exception (full disk, TLS and CA problems, a refused
login, an unreachable broker, an unreadable registry) into a short
problem and a fix; `explain_log_event` is a structlog processor that adds those
to any log event carrying an exception, and turns the broker's resource alarm
(the `connection.blocked` notice aiormq logs) into a `broker_blocked` event.
Tracebacks are the logging set-up's business (`spisync.logging`): only at debug.
"""

from __future__ import annotations

import errno
import sqlite3
import ssl
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    from structlog.typing import EventDict, WrappedLogger

__all__ = ["Explanation", "describe", "explain", "explain_log_event"]


@dataclass(frozen=True)
class Explanation:
    """A failure in one line.

    Attributes:
        problem: What is wrong, for example `disk full`.
        fix: What the operator should do about it.
        kind: The failure's kind (`disk_full`, `broker_tls_failed`,
            `broker_login_refused`, `broker_unreachable`, `registry_unreadable`).
    """

    problem: str
    fix: str
    kind: str = ""


_DISK_FULL = Explanation(
    "disk full",
    "free space on the disk that holds the state or data folder (df -h), then restart the service",
    "disk_full",
)
_WRONG_VERSION = Explanation(
    "TLS to a port that speaks plain AMQP (WRONG_VERSION_NUMBER)",
    "use amqps:// with the broker's TLS port (5671), or amqp:// with its plain port (5672)",
    "broker_tls_failed",
)
_UNTRUSTED = Explanation(
    "the broker's certificate is not signed by a CA in [broker] ca_file",
    "set [broker] ca_file to the ORP's CA certificate (ca.pem) and check the host name in the URL",
    "broker_tls_failed",
)
_CLIENT_CERT = Explanation(
    "the broker refused this client's certificate",
    "the certificate is expired, revoked or from another CA: ask the ORP for a new one "
    "(spisync hub provision-agent --tls)",
    "broker_tls_failed",
)
_LOGIN = Explanation(
    "the broker refused the login",
    "check the user and password in [broker] url; the ORP can issue a new password "
    "(spisync hub provision-agent --rotate-password)",
    "broker_login_refused",
)
_UNREACHABLE = Explanation(
    "the broker is not reachable",
    "check the host and port in [broker] url, the network and the firewall (5671 for amqps)",
    "broker_unreachable",
)
_REGISTRY = Explanation(
    "the registry cannot be read",
    "check [registry] in the config, that the database exists and that the service may read it",
    "registry_unreadable",
)


def _ssl_explanation(exc: ssl.SSLError) -> Explanation:
    reason = getattr(exc, "reason", "") or ""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _UNTRUSTED
    if reason == "WRONG_VERSION_NUMBER":
        return _WRONG_VERSION
    if reason.startswith(("TLSV1_ALERT", "SSLV3_ALERT")):
        return _CLIENT_CERT
    return Explanation(
        f"TLS failed ({reason or exc})",
        "check [broker] ca_file, cert_file and key_file, and that the url's host matches "
        "the broker's certificate",
        "broker_tls_failed",
    )


def explain(exc: BaseException) -> Explanation | None:
    """Return the explanation of a known runtime failure, or None."""
    for candidate in _chain(exc):
        found = _explain_one(candidate)
        if found is not None:
            return found
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc`, its causes and contexts, and the members of exception groups."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return seen


# By class name: aiormq and the agent's errors are not imported here (no role imports).
_BY_NAME = {
    "ProbableAuthenticationError": _LOGIN,
    "AuthenticationError": _LOGIN,
    "AMQPConnectionError": _UNREACHABLE,
    "RegistryError": _REGISTRY,
}


# aiormq wraps TLS failures into AMQPConnectionError carrying only the text.
_BY_TEXT = (
    ("WRONG_VERSION_NUMBER", _WRONG_VERSION),
    ("CERTIFICATE_VERIFY_FAILED", _UNTRUSTED),
    ("ALERT_UNKNOWN_CA", _CLIENT_CERT),
    ("ALERT_BAD_CERTIFICATE", _CLIENT_CERT),
    ("ALERT_CERTIFICATE_EXPIRED", _CLIENT_CERT),
    ("ALERT_CERTIFICATE_REVOKED", _CLIENT_CERT),
    ("ALERT_CERTIFICATE_REQUIRED", _CLIENT_CERT),
    ("ALERT_HANDSHAKE_FAILURE", _CLIENT_CERT),
)


def _explain_one(exc: BaseException) -> Explanation | None:
    text = str(exc).upper().replace(" ", "_")
    for marker, explanation in _BY_TEXT:
        if marker in text:
            return explanation
    found = _BY_NAME.get(type(exc).__name__)
    if isinstance(exc, ssl.SSLError):
        found = _ssl_explanation(exc)
    elif (isinstance(exc, OSError) and exc.errno in {errno.ENOSPC, errno.EDQUOT}) or (
        isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)
    ):
        found = _DISK_FULL
    # A bare ConnectionRefusedError or TimeoutError may come from the registry's
    # database as well: only aiormq's own error says it was the broker.
    return found


def describe(exc: BaseException) -> dict[str, str]:
    """Return log fields for `exc`: `error` (type and message), and `fix` when known."""
    fields = {"error": f"{type(exc).__name__}: {exc}"}
    explanation = explain(exc)
    if explanation is not None:
        fields["problem"] = explanation.problem
        fields["fix"] = explanation.fix
    return fields


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        value = exc_info[1]
        return value if isinstance(value, BaseException) else None
    if exc_info is True:
        return sys.exc_info()[1]
    return None


_BLOCKED = "Connection %r was blocked by: %r"
_UNBLOCKED = "Connection %r was unblocked"


def _alarm(reason: str) -> Explanation:
    if "disk" in reason:
        return Explanation(
            "the broker's disk alarm stops every publisher",
            "free disk space on the broker (its data folder) or raise disk_free_limit; "
            "publishing resumes by itself",
        )
    return Explanation(
        "the broker's memory alarm stops every publisher",
        "give the broker more memory or raise vm_memory_high_watermark, and look for a "
        "queue that grows without a consumer; publishing resumes by itself",
    )


def explain_log_event(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Add `error`, `problem` and `fix` to an event with an exception; name broker alarms.

    A structlog processor, placed before the renderer in every role's chain
    (with `ProcessorFormatter(pass_foreign_args=True)`, which keeps a library
    record's arguments in `positional_args`).
    """
    record: logging.LogRecord | None = event_dict.get("_record")
    args = event_dict.pop("positional_args", ())
    if record is not None and record.name.startswith("aiormq"):
        if record.msg == _BLOCKED and isinstance(args, tuple) and len(args) == 2:
            reason = str(args[1])
            alarm = _alarm(reason)
            event_dict.update(
                event="broker_blocked", reason=reason, problem=alarm.problem, fix=alarm.fix
            )
        elif record.msg == _UNBLOCKED:
            event_dict["event"] = "broker_unblocked"
    exc_info = event_dict.get("exc_info")
    if exc_info:
        exc = _exception_of(exc_info)
        if exc is not None:
            for key, value in describe(exc).items():
                event_dict.setdefault(key, value)
    return event_dict
