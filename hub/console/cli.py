"""`spisync hub operator ...`, `spisync hub audit` and `spisync hub status`."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hub import audit
from hub.config import load_hub_config
from hub.console.accounts import (
    ROLES,
    AccountError,
    add_operator,
    issue_token,
    remove_operator,
)
from hub.queries import format_table

if TYPE_CHECKING:
    import argparse

    from hub.store.metadata import MetadataStore

__all__ = ["COMMANDS", "add_parsers", "run_command"]

COMMANDS = frozenset({"operator", "audit", "status"})
"""The `spisync hub` subcommands this module serves."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `operator`, `audit` and `status` to `spisync hub`'s subcommands."""
    operator = sub.add_parser("operator", help="manage the console's operator accounts")
    actions = operator.add_subparsers(dest="operator_command", required=True)
    add = actions.add_parser("add", help="create an account or set its role and password")
    add.add_argument("--name", required=True, help="login name")
    add.add_argument("--role", required=True, choices=ROLES, help="what the operator may do")
    add.add_argument(
        "--password-file",
        type=Path,
        required=True,
        help="file whose first line is the password ('-' reads standard input)",
    )
    actions.add_parser("list", help="list the accounts with their roles")
    remove = actions.add_parser("remove", help="delete an account and end its sessions")
    remove.add_argument("--name", required=True, help="login name")
    token = actions.add_parser(
        "token", help="issue an API bearer token for an account (replaces the previous one)"
    )
    token.add_argument("--name", required=True, help="login name")
    for parser in (add, actions.choices["list"], remove, token):
        parser.add_argument("--config", type=Path, required=True, help="HUB.toml")

    export = sub.add_parser("audit", help="print the audit log (console actions and logins)")
    export.add_argument("--config", type=Path, required=True, help="HUB.toml")
    export.add_argument("--json", action="store_true", help="print JSON instead of lines")
    export.add_argument("--ico", help="only entries concerning this obec")
    export.add_argument("--limit", type=int, default=1000, help="newest N entries (1000)")

    status = sub.add_parser(
        "status", help="print the overview of every obec (as the console shows it)"
    )
    status.add_argument("--config", type=Path, required=True, help="HUB.toml")
    status.add_argument("--json", action="store_true", help="print JSON (the /api/v1/obce rows)")


def _read_password(path: Path) -> str:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AccountError(f"cannot read the password file {path}: {exc.strerror}") from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


async def _operator(args: argparse.Namespace, store: MetadataStore) -> int:
    command = args.operator_command
    if command == "list":
        rows = await store.operators.operators()
        if not rows:
            print("(no operators)")
        for row in rows:
            token = "token" if row.has_token else "-"
            print(f"{row.name:<24} {row.role:<9} {token:<6} since {row.created_at:%Y-%m-%d}")
        return 0
    actor = _cli_actor()
    if command == "add":
        created = await add_operator(
            store, args.name, args.role, _read_password(args.password_file)
        )
        await audit.record(store, actor, "operator_add", None, f"{args.name} ({args.role})", "ok")
        print(f"operator {args.name} {'created' if created else 'updated'} as {args.role}")
    elif command == "remove":
        await remove_operator(store, args.name)
        await audit.record(store, actor, "operator_remove", None, args.name, "ok")
        print(f"operator {args.name} removed")
    else:
        token = await issue_token(store, args.name)
        await audit.record(store, actor, "operator_token", None, args.name, "ok")
        print(token)
    return 0


_STATUS_COLUMNS = (
    "stav",
    "obec",
    "ico",
    "verze",
    "pripojen",
    "hlaseni",
    "fronta_agenta",
    "fronta_hubu",
    "soubory",
    "data",
    "spisy_o/u/p/a",
    "proc",
)


async def _status(args: argparse.Namespace, store: MetadataStore) -> int:
    # Imported here: only `status` needs the broker view and the overview.
    from hub.console.broker import BrokerView  # noqa: PLC0415
    from hub.console.labels import STATUS_NAMES, format_age, format_size  # noqa: PLC0415
    from hub.console.views import ObceRegistry, overview_rows, sort_rows  # noqa: PLC0415

    config = load_hub_config(args.config)
    rows, broker = await overview_rows(
        config, store, BrokerView(config.broker), ObceRegistry(config)
    )
    rows = sort_rows(rows)
    if args.json:
        print(
            json.dumps(
                {"broker_available": broker.available, "obce": rows}, ensure_ascii=False, indent=2
            )
        )
        return 0
    if not broker.available:
        print(f"broker neodpovídá: {broker.error}", file=sys.stderr)
    table = [
        {
            "stav": STATUS_NAMES[r["status"]],
            "obec": r["name"] or "-",
            "ico": r["ico"],
            "verze": r["agent_version"],
            "pripojen": r["connected"],
            "hlaseni": format_age(r["heartbeat_age_s"]),
            "fronta_agenta": r["outbox_messages"],
            "fronta_hubu": r["queue_depth"],
            "soubory": r["files"],
            "data": format_size(r["bytes"]),
            "spisy_o/u/p/a": "/".join(
                str(r["spisy"].get(s, 0)) for s in ("open", "closed", "forwarded", "archived")
            ),
            "proc": "; ".join(r["status_reasons"]),
        }
        for r in rows
    ]
    print(format_table(table, _STATUS_COLUMNS))
    return 0


async def run_command(args: argparse.Namespace) -> int:
    """Run one of `COMMANDS`; return the exit code.

    Raises:
        AccountError: If an account cannot be changed as asked.
    """
    # Imported here: the store pulls in aiosqlite, which `--help` does not need.
    from hub.store import open_metadata_store  # noqa: PLC0415

    config = load_hub_config(args.config)
    store = await open_metadata_store(config, instance="cli")
    try:
        if args.command == "operator":
            return await _operator(args, store)
        if args.command == "status":
            return await _status(args, store)
        log = await audit.entries(store, limit=args.limit, ico=args.ico)
        print(audit.to_json(log) if args.json else audit.format_entries(log))
        return 0
    finally:
        await store.close()
