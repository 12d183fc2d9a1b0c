"""`spisync hub check`: is this hub set up right? Plain words and fixes.

Checks the configuration, that the data folder is writable, the TLS files, the
broker login and the hub user's permissions on its vhost, and that the
management API (which `provision-agent` needs) answers. Nothing is changed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hub.config import HubConfig, load_hub_config
from hub.provision import ObecRecord, load_obce
from hub.tls import RENEW_BEFORE_DAYS
from spisync.broker import ManagementClient
from spisync.check import (
    Finding,
    bad,
    check_broker_login,
    check_tls_files,
    check_writable_dir,
    good,
)
from spisync.errors import BrokerSetupError, ConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["check"]


async def _check_management(config: HubConfig) -> list[Finding]:
    broker = config.broker
    api = ManagementClient(broker.api_url, broker.username, broker.password)
    what = "broker management API"
    try:
        overview = await api.overview()
        permissions = await api.user_permissions(broker.username)
    except BrokerSetupError as exc:
        return [
            bad(
                what,
                str(exc),
                "enable rabbitmq_management on the broker, or set [broker] management_url; "
                "provision-agent needs it",
            )
        ]
    version = overview.get("rabbitmq_version", "?")
    findings = [good(what, f"{broker.api_url} answers (RabbitMQ {version})")]
    mine = [p for p in permissions if p.get("vhost") == broker.vhost]
    if not mine or mine[0].get("configure") in {"", "^$"}:
        findings.append(
            bad(
                "broker permissions",
                f"user {broker.username!r} may not configure vhost {broker.vhost!r}",
                f"rabbitmqctl set_permissions -p {broker.vhost} {broker.username} '.*' '.*' '.*' "
                "(the hub declares the topology)",
            )
        )
    else:
        findings.append(
            good("broker permissions", f"{broker.username!r} may configure {broker.vhost!r}")
        )
    return findings


def _check_certificates(obce: list[ObecRecord]) -> list[Finding]:
    """Obce whose client certificate expires within RENEW_BEFORE_DAYS need a new one now."""
    soon = datetime.now(UTC) + timedelta(days=RENEW_BEFORE_DAYS)
    findings = []
    for record in obce:
        if record.cert_not_after is None or record.cert_not_after > soon:
            continue
        findings.append(
            bad(
                f"certificate of obec {record.ico}",
                f"expires {record.cert_not_after:%Y-%m-%d}",
                f"spisync hub provision-agent --config HUB.toml --ico {record.ico} --name "
                f"'{record.name}' --out AGENT.toml --tls, then install the new files at the "
                "town hall (the old certificate works until it expires)",
            )
        )
    with_certs = sum(1 for r in obce if r.cert_not_after is not None)
    if with_certs and not findings:
        findings.append(
            good(
                "client certificates",
                f"none of {with_certs} expires within {RENEW_BEFORE_DAYS} days",
            )
        )
    return findings


async def check(config_path: Path) -> list[Finding]:
    """Check everything the hub needs; return the findings in order."""
    try:
        config = load_hub_config(config_path)
    except ConfigError as exc:
        return [bad("configuration", str(exc), exc.fix)]
    obce = [r for r in load_obce(config).values() if not r.revoked]
    findings = [
        good(
            "configuration",
            f"{config_path} is valid (ORP {config.hub.orp}, {len(obce)} obce provisioned, "
            f"agent users {config.hub.agent_username('<IČO>')})",
        ),
        check_writable_dir(config.hub.data_path, "data folder", "[hub] data_dir"),
        *_check_certificates(obce),
    ]
    findings.extend(check_tls_files(config.broker))
    login, connection = await check_broker_login(
        config.broker, name=f"spisync-hub-check {config.hub.orp}"
    )
    findings.append(login)
    if connection is not None:
        await connection.close()
        findings.extend(await _check_management(config))
    return findings
