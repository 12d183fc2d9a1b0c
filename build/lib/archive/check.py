"""`spisync archive check`: is this archive consumer set up right? Plain words and fixes.

Checks the configuration, that the data folder is writable, the TLS files, the
broker login and that the archive's inbox queue can be read. Nothing is changed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from aiormq.exceptions import ChannelAccessRefused, ChannelNotFoundEntity

from archive.config import load_archive_config
from protocol import names
from spisync.check import (
    Finding,
    bad,
    check_broker_login,
    check_tls_files,
    check_writable_dir,
    good,
)
from spisync.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from aio_pika.abc import AbstractConnection

__all__ = ["check"]


async def _check_inbox(connection: AbstractConnection) -> Finding:
    what = "broker: inbox"
    channel = await connection.channel()
    try:
        await channel.get_queue(names.ARCHIVE_INBOX_QUEUE, ensure=True)
    except ChannelNotFoundEntity:
        return good(
            what,
            f"{names.ARCHIVE_INBOX_QUEUE} does not exist yet; the archive declares it at start",
        )
    except ChannelAccessRefused as exc:
        return bad(
            what,
            f"the broker does not let this user use {names.ARCHIVE_INBOX_QUEUE!r}: {exc}",
            "give the archive's broker user configure, write and read on its vhost",
        )
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return good(what, f"{names.ARCHIVE_INBOX_QUEUE} can be read")


async def check(config_path: Path) -> list[Finding]:
    """Check everything the archive consumer needs; return the findings in order."""
    try:
        config = load_archive_config(config_path)
    except ConfigError as exc:
        return [bad("configuration", str(exc), exc.fix)]
    findings = [
        good("configuration", f"{config_path} is valid"),
        check_writable_dir(config.archive.data_path, "data folder", "[archive] data_dir"),
    ]
    findings.extend(check_tls_files(config.broker))
    login, connection = await check_broker_login(config.broker, name="spisync-archive-check")
    findings.append(login)
    if connection is not None:
        async with connection:
            findings.append(await _check_inbox(connection))
    return findings
