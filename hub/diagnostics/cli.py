"""`spisync hub diag`: ask an obec's agent, wait for the answer, show any request later.

    spisync hub diag --config HUB.toml --ico ICO VERB [ARGS] [--wait SECONDS] [--json] [--ttl 24h]
    spisync hub diag --config HUB.toml --show ID [--json] [--out FILE]
    spisync hub diag --config HUB.toml --ico ICO [--json]      # the obec's latest requests

Exit codes: 0 done, 1 failed or expired, 2 bad usage, 3 still not finished
after `--wait`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.config import load_hub_config
from hub.content import open_content
from hub.diagnostics.requests import (
    DEFAULT_TTL_S,
    DiagnosticsRequestError,
    parse_ttl,
    refresh,
    submit,
    wait_for_outcome,
)
from hub.diagnostics.requests import as_json as as_json_row
from hub.diagnostics.states import STATE_NAMES, TERMINAL
from hub.store import open_blob_store, open_metadata_store
from protocol import DIAGNOSTIC_VERBS, DiagnosticArgs, validate_ico

if TYPE_CHECKING:
    import argparse

    from hub.store.diagnostics import DiagnosticsRow
    from hub.store.metadata import MetadataStore

__all__ = ["add_parser", "run"]

_LIST_LIMIT = 30


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `diag` to `spisync hub`'s subcommands."""
    diag = sub.add_parser(
        "diag",
        help="helpdesk diagnostics: ask an obec's agent (verbs: "
        + ", ".join(DIAGNOSTIC_VERBS)
        + ")",
    )
    diag.add_argument("--config", type=Path, required=True, help="HUB.toml")
    diag.add_argument("--ico", help="the obec's IČO")
    diag.add_argument("verb", nargs="?", metavar="VERB", help=" | ".join(DIAGNOSTIC_VERBS))
    diag.add_argument("--show", metavar="ID", help="show a request's state and result")
    diag.add_argument("--wait", type=float, metavar="SECONDS", help="wait for the result")
    diag.add_argument("--json", action="store_true", help="print JSON")
    diag.add_argument("--ttl", default=None, help="time to live (3600, 90m, 24h, 2d; default 24h)")
    diag.add_argument("--operator", help="your account name (default: the login user)")
    diag.add_argument("--out", type=Path, help="with --show: save the attachment (bundle) here")
    diag.add_argument("--lines", type=int, help="logs: how many last lines")
    diag.add_argument("--level", choices=["debug", "info", "warning", "error"], help="logs: level")
    diag.add_argument("--folder", help="rescan, allow-deletions: the folder's name")
    diag.add_argument("--path", help="resend: the file's path")
    diag.add_argument("--spis", help="resend: the spis's id")


def _operator(given: str | None) -> str:
    if given:
        return given
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except OSError:
        return "?"


async def run(args: argparse.Namespace) -> int:
    """Run `spisync hub diag`; return the exit code."""
    config = load_hub_config(args.config)
    store = await open_metadata_store(config, instance="cli")
    try:
        await refresh(store)
        if args.show:
            row = await store.diagnostics.get(args.show)
            if row is None:
                print(f"spisync hub diag: požadavek {args.show!r} neexistuje", file=sys.stderr)
                return 2
            if args.out is not None:
                await _save(config, store, row, args.out)
            return _print(row, as_json=args.json)
        if args.ico and not args.verb:
            return await _list(store, args.ico, as_json=args.json)
        if not args.ico or not args.verb:
            print(
                "spisync hub diag: zadejte --ico ICO a sloveso (nebo --show ID); povolená slovesa: "
                + ", ".join(DIAGNOSTIC_VERBS),
                file=sys.stderr,
            )
            return 2
        try:
            verb_args = DiagnosticArgs(
                lines=args.lines,
                level=args.level,
                folder=args.folder,
                path=args.path,
                spis=args.spis,
            )
        except (TypeError, ValueError) as exc:
            raise DiagnosticsRequestError(str(exc)) from None
        row = await submit(
            config,
            store,
            ico=args.ico,
            verb=args.verb,
            args=verb_args,
            operator=_operator(args.operator),
            ttl_s=DEFAULT_TTL_S if args.ttl is None else parse_ttl(args.ttl),
        )
        if row.state == "failed" or not args.wait:
            if args.json:
                print(json.dumps(as_json_row(row), ensure_ascii=False, indent=2, default=str))
            else:
                print(row.id if row.state != "failed" else f"{row.id} selhalo: {row.error}")
            return 1 if row.state == "failed" else 0
        waited = await wait_for_outcome(store, row.id, args.wait)
        assert waited is not None
        code = _print(waited, as_json=args.json)
        return code if waited.state in TERMINAL else 3
    finally:
        await store.close()


async def _list(store: MetadataStore, ico: str, *, as_json: bool) -> int:
    """Print an obec's latest requests, newest first."""
    rows = await store.diagnostics.of_obec(validate_ico(ico), limit=_LIST_LIMIT)
    if as_json:
        print(json.dumps([as_json_row(r) for r in rows], ensure_ascii=False, indent=2, default=str))
        return 0
    if not rows:
        print(f"obec {ico}: žádné požadavky na diagnostiku")
        return 0
    for row in rows:
        args = " ".join(f"--{k} {v}" for k, v in row.args.items())
        size = "" if row.result_bytes is None else f"  {row.result_bytes} B"
        flag = "  BEZPEČNOSTNÍ UDÁLOST" if row.security_event else ""
        print(
            f"{row.id}  {row.created_at.isoformat(timespec='seconds')}  {row.verb} {args}".rstrip()
            + f"  {row.operator or '?'}  {STATE_NAMES.get(row.state, row.state)}{size}{flag}"
        )
    return 0


def _print(row: DiagnosticsRow, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(_json(row), ensure_ascii=False, indent=2, default=str))
    else:
        _print_text(row)
    if row.state == "done":
        return 0
    return 1 if row.state in TERMINAL else 3


def _json(row: DiagnosticsRow) -> dict[str, Any]:
    return as_json_row(row)


def _print_text(row: DiagnosticsRow) -> None:
    args = " ".join(f"--{k} {v}" for k, v in row.args.items())
    print(f"požadavek {row.id}: obec {row.ico}, {row.verb} {args}".rstrip())
    print(f"  operátor: {row.operator or '?'}")
    print(f"  stav: {row.state} ({STATE_NAMES.get(row.state, row.state)})")
    print(f"  vytvořen: {row.created_at.isoformat(timespec='seconds')}")
    print(f"  platnost do: {row.expires_at.isoformat(timespec='seconds')}")
    if row.finished_at is not None:
        print(f"  dokončen: {row.finished_at.isoformat(timespec='seconds')}")
    if row.clock_offset_s is not None:
        print(f"  posun hodin hub - agent: {row.clock_offset_s:+.1f} s (včetně cesty zprávy)")
    if row.error:
        print(f"  chyba: {row.error}")
    if row.result_bytes is not None:
        print(f"  velikost výsledku: {row.result_bytes} B")
    if row.attachment is not None:
        a = row.attachment
        print(
            f"  příloha: {a.name}, {a.size} B, sha256 {a.sha256} "
            f"(uložit: --show {row.id} --out SOUBOR)"
        )
    if row.verb == "logs" and isinstance(row.data.get("lines"), list):
        for line in row.data["lines"]:
            print(line)
    elif row.data:
        print(json.dumps(row.data, ensure_ascii=False, indent=2, default=str))


async def _save(config: Any, store: MetadataStore, row: DiagnosticsRow, out: Path) -> None:
    """Write the attachment to `out`, verifying its SHA-256 on the way."""
    attachment = row.attachment
    if attachment is None:
        raise DiagnosticsRequestError(f"požadavek {row.id} nemá přílohu")
    blobs = await open_blob_store(config)
    digest = hashlib.sha256()
    partial = out.with_name(out.name + ".part")
    try:
        with partial.open("wb") as handle:
            async for block in open_content(store, blobs, attachment.sha256):
                digest.update(block)
                handle.write(block)
    finally:
        await blobs.close()
    if digest.hexdigest() != attachment.sha256:
        partial.unlink(missing_ok=True)
        raise DiagnosticsRequestError(f"příloha {row.id} nesouhlasí se SHA-256; nic neuloženo")
    partial.replace(out)
    print(f"uloženo {out} ({attachment.size} B, sha256 ověřeno)", file=sys.stderr)
