"""Asking an agent: validate, record, publish with a time to live, wait, audit.

`submit` is the one way a diagnostics request is made, from `spisync hub
diag` and from the console's buttons alike. The request is recorded
(`queued`) before it is published, so its answer always finds it; it travels
through the agent exchange into the obec's inbox with the broker's message
TTL, so an agent offline longer than that never sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from aio_pika.exceptions import DeliveryError, PublishError

from hub import audit
from hub.diagnostics.states import TERMINAL, expire
from hub.errors import HubError
from hub.publisher import HubPublisher
from hub.store.diagnostics import DiagnosticsRow
from protocol import (
    DIAGNOSTIC_VERBS,
    DiagnosticArgs,
    DiagnosticsRequest,
    ProtocolError,
    new_message_id,
    utc_now,
    validate_ico,
)
from spisync.broker import open_connection

if TYPE_CHECKING:
    from datetime import datetime

    from hub.config import HubConfig
    from hub.store.metadata import MetadataStore
    from protocol.control import DiagnosticVerb

__all__ = [
    "DEFAULT_TTL_S",
    "DiagnosticsRequestError",
    "as_json",
    "expiry_sweep",
    "parse_ttl",
    "refresh",
    "submit",
    "validate",
    "wait_for_outcome",
]

DEFAULT_TTL_S = 24 * 3600.0
EXPIRY_SWEEP_S = 30.0
MAX_TTL_S = 14 * 24 * 3600.0
log = structlog.get_logger(__name__)

_TTL = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class DiagnosticsRequestError(HubError):
    """A request that cannot be made: unknown verb, missing argument, unknown obec."""


def parse_ttl(text: str) -> float:
    """Return seconds from `3600`, `90m`, `24h` or `2d`.

    Raises:
        DiagnosticsRequestError: If it is not such a value or exceeds 14 days.
    """
    match = _TTL.match(text.strip())
    if match is None:
        raise DiagnosticsRequestError(
            f"--ttl {text!r}: čekám sekundy nebo číslo s jednotkou s/m/h/d (např. 24h)"
        )
    seconds = float(match[1]) * _UNIT[match[2]]
    if not 0 < seconds <= MAX_TTL_S:
        raise DiagnosticsRequestError(f"--ttl {text!r}: musí být víc než 0 a nejvýš 14 dní")
    return seconds


def validate(verb: str, args: DiagnosticArgs) -> DiagnosticVerb:
    """Check the verb is one of the closed list and has the arguments it needs.

    Raises:
        DiagnosticsRequestError: Naming what is wrong (and the allowed verbs).
    """
    if verb not in DIAGNOSTIC_VERBS:
        raise DiagnosticsRequestError(
            f"neznámé sloveso {verb!r}; povolená: {', '.join(DIAGNOSTIC_VERBS)}"
        )
    given = {k for k, v in msgspec.structs.asdict(args).items() if v is not None}
    takes = {
        "logs": {"lines", "level"},
        "rescan": {"folder"},
        "resend": {"path", "spis"},
        "allow-deletions": {"folder"},
    }.get(verb, set())
    extra = given - takes
    if extra:
        names = ", ".join(f"--{n}" for n in sorted(extra))
        raise DiagnosticsRequestError(f"{verb} nebere {names}")
    if verb == "resend" and len(given) != 1:
        raise DiagnosticsRequestError("resend potřebuje právě jedno z: --path CESTA, --spis ID")
    if verb == "allow-deletions" and "folder" not in given:
        raise DiagnosticsRequestError("allow-deletions potřebuje --folder NÁZEV")
    return verb


def _detail(row: DiagnosticsRow) -> str:
    args = " ".join(f"--{k} {v}" for k, v in row.args.items())
    return f"{row.id} {row.verb} {args}".rstrip()


async def submit(
    config: HubConfig,
    store: MetadataStore,
    *,
    ico: str,
    verb: str,
    args: DiagnosticArgs | None = None,
    operator: str,
    ttl_s: float = DEFAULT_TTL_S,
    publisher: HubPublisher | None = None,
) -> DiagnosticsRow:
    """Record and send one request to obec `ico`'s agent; return its row (`queued` or `failed`).

    Args:
        config: The hub's configuration (its broker, for a one-off connection).
        store: The metadata store.
        ico: The obec.
        verb: One of `DIAGNOSTIC_VERBS`.
        args: The verb's arguments.
        operator: The helpdesk operator's account name (travels to the obec's journal).
        ttl_s: Time to live: after it, the request is dropped and never runs.
        publisher: A publisher on an open confirming channel; by default one is opened.

    Raises:
        DiagnosticsRequestError: If the verb, its arguments or the IČO are invalid.
    """
    args = args or DiagnosticArgs()
    try:
        ico = validate_ico(ico)
    except ProtocolError as exc:
        raise DiagnosticsRequestError(str(exc)) from None
    checked = validate(verb, args)
    now = utc_now()
    row = DiagnosticsRow(
        id=f"d-{secrets.token_hex(8)}",
        ico=ico,
        verb=checked,
        args=msgspec.to_builtins(args),
        operator=operator,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        updated_at=now,
    )
    await store.diagnostics.create(row)
    request = DiagnosticsRequest(
        message_id=new_message_id(),
        sender=f"hub:{config.hub.orp}",
        sent_at=now,
        request_id=row.id,
        command="rescan" if checked == "rescan" else "status",
        verb=checked,
        args=args,
        operator=operator,
        expires_at=row.expires_at,
    )
    error = await _publish(config, ico, request, ttl_s, publisher)
    actor = f"helpdesk:{operator}"
    if error is not None:
        failed = msgspec.structs.replace(
            row, state="failed", ok=False, error=error, finished_at=utc_now(), updated_at=utc_now()
        )
        await store.diagnostics.replace(failed, expected="queued")
        await audit.record(
            store, actor, "diagnostics_request", ico, _detail(row), audit.error_result(error)
        )
        return failed
    await audit.record(store, actor, "diagnostics_request", ico, _detail(row), audit.RESULT_OK)
    return row


async def _publish(
    config: HubConfig,
    ico: str,
    request: DiagnosticsRequest,
    ttl_s: float,
    publisher: HubPublisher | None,
) -> str | None:
    try:
        if publisher is not None:
            await publisher.send_to_agent(ico, request, expiration_s=ttl_s)
            return None
        connection = await open_connection(config.broker, name=f"spisync-hub {config.hub.orp} diag")
        async with connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            own = await HubPublisher.open(
                channel, hub_user=config.broker.username, orp=config.hub.orp
            )
            await own.send_to_agent(ico, request, expiration_s=ttl_s)
    except PublishError:
        return f"obec {ico} nemá schránku agenta (není zřízena: spisync hub provision-agent)"
    except DeliveryError as exc:
        return f"broker požadavek nepřijal: {exc}"
    except (OSError, ConnectionError, TimeoutError) as exc:
        return f"broker není dostupný: {exc}"
    return None


async def refresh(store: MetadataStore, now: datetime | None = None) -> int:
    """Mark every unfinished request whose time to live ran out as `expired`; return how many."""
    now = now or utc_now()
    changed = 0
    for row in await store.diagnostics.open_past(now):
        expired = expire(row, now)
        if expired is not None and await store.diagnostics.replace(expired, expected=row.state):
            changed += 1
            await audit.record(
                store,
                f"helpdesk:{row.operator}",
                "diagnostics_expired",
                row.ico,
                _detail(row),
                audit.error_result(expired.error),
            )
    return changed


async def expiry_sweep(
    store: MetadataStore, shutdown: asyncio.Event, *, interval_s: float = EXPIRY_SWEEP_S
) -> None:
    """Run `refresh` every `interval_s` until `shutdown`, so expired requests show as such.

    Every reader refreshes too (`hub diag`, the console); this keeps the stored
    state right when nobody looks. A failure (a busy or full database) is logged
    and tried again at the next round: it must never stop the hub.
    """
    while not shutdown.is_set():
        try:
            await refresh(store)
        except Exception as exc:  # logged; the next round tries again
            log.warning("diagnostics_expiry_sweep_failed", error=f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(shutdown.wait(), timeout=interval_s)


async def wait_for_outcome(
    store: MetadataStore, request_id: str, timeout_s: float, *, poll_s: float = 0.2
) -> DiagnosticsRow | None:
    """Wait (polling the shared store) until the request is finished or `timeout_s` passes."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while True:
                await refresh(store)
                row = await store.diagnostics.get(request_id)
                if row is None or row.state in TERMINAL:
                    return row
                await asyncio.sleep(poll_s)
    return await store.diagnostics.get(request_id)


def as_json(row: DiagnosticsRow) -> dict[str, Any]:
    """Return a row as JSON-ready data."""
    data: dict[str, Any] = msgspec.to_builtins(row)
    return data
