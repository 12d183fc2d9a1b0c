"""What every role's `check` command shares: findings, folders, TLS files, broker login.

A check changes nothing; each finding says what was checked, what was found
and, when something is wrong, how to fix it. `print_findings` prints them the
same way for the agent, the hub and the archive and returns the exit code.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiormq.exceptions import AuthenticationError, ProbableAuthenticationError

from spisync.broker import open_connection
from spisync.config import redact_url
from spisync.errors import ConfigError
from spisync.failures import explain

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

    from spisync.config import BrokerConfig

__all__ = [
    "Finding",
    "bad",
    "check_broker_login",
    "check_tls_files",
    "check_writable_dir",
    "good",
    "print_findings",
]


@dataclass(frozen=True)
class Finding:
    """One checked thing.

    Attributes:
        ok: Whether it is fine.
        what: What was checked.
        detail: What was found.
        fix: What to do about it, when not ok (or when a warning).
        warning: Fine for running, but not as it should be (e.g. a login that may write).
    """

    ok: bool
    what: str
    detail: str
    fix: str = ""
    warning: bool = False


def good(what: str, detail: str) -> Finding:
    """A finding that is fine."""
    return Finding(ok=True, what=what, detail=detail)


def bad(what: str, detail: str, fix: str) -> Finding:
    """A finding that is wrong, with its fix."""
    return Finding(ok=False, what=what, detail=detail, fix=fix)


def print_findings(findings: list[Finding]) -> int:
    """Print the findings and a summary; return 0 when all passed, else 1."""
    for finding in findings:
        mark = ("WARN" if finding.warning else "ok  ") if finding.ok else "FAIL"
        print(f"{mark} {finding.what}: {finding.detail}")
        if not finding.ok or finding.warning:
            print(f"     fix: {finding.fix}")
    failed = sum(1 for f in findings if not f.ok)
    print("all checks passed" if not failed else f"{failed} check(s) failed")
    return 0 if not failed else 1


def check_writable_dir(path: Path, what: str, key: str) -> Finding:
    """Check that `path` is (or can be created as) a folder this user may write."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if path.exists() and not path.is_dir():
        return bad(what, f"{path} is not a folder", f"set {key} to a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        return bad(
            what,
            f"{probe} is not writable by this user",
            f"create {path} and give the service's user write access to it",
        )
    return good(what, f"{path} is writable")


def check_tls_files(broker: BrokerConfig) -> list[Finding]:
    """Check that `ca_file`, `cert_file` and `key_file`, where set, exist and are readable."""
    findings = []
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(broker, key)
        if value is None:
            continue
        path = Path(value)
        what = f"[broker] {key}"
        if not path.is_file():
            findings.append(
                bad(what, f"{path} does not exist", f"put the file there or fix [broker] {key}")
            )
        elif not os.access(path, os.R_OK):
            findings.append(
                bad(what, f"{path} is not readable", "give the service's user read access to it")
            )
        else:
            findings.append(good(what, f"{path} is readable"))
    if "auth=external" in broker.url and not (broker.cert_file and broker.key_file):
        findings.append(
            bad(
                "[broker] cert_file",
                "the URL asks for a certificate login (auth=external) but cert_file or "
                "key_file is not set",
                "set cert_file and key_file to the files the ORP issued with "
                "`spisync hub provision-agent --tls`",
            )
        )
    if broker.url.startswith("amqp://") and broker.cert_file:
        findings.append(
            bad(
                "[broker] url",
                "cert_file is set but the URL is plain amqp://",
                "use amqps:// and the broker's TLS port (5671) for client certificates",
            )
        )
    return findings


async def check_broker_login(
    broker: BrokerConfig, *, name: str
) -> tuple[Finding, AbstractConnection | None]:
    """Open a connection as the configured user; return the finding and the open connection."""
    url = redact_url(broker.url)
    what = "broker login"
    try:
        connection = await open_connection(broker, name=name)
    except ConfigError as exc:
        return bad(what, str(exc), "fix the key named above"), None
    except (AuthenticationError, ProbableAuthenticationError) as exc:
        return (
            bad(
                what,
                f"{url} refused user {broker.username!r}: {exc}",
                "the user or password in [broker] url is wrong or was revoked; the ORP issues "
                "a new one with `spisync hub provision-agent --rotate-password`",
            ),
            None,
        )
    except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
        explanation = explain(exc)
        detail = f"{url}: {explanation.problem if explanation else type(exc).__name__}: {exc}"
        fix = explanation.fix if explanation else "check [broker] url and the network"
        return bad(what, detail, fix), None
    return good(what, f"{url} accepted user {broker.username!r}"), connection
