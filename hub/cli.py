"""`spisync hub ...`: run the hub, provision agents, query what it holds."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import structlog

from hub.check import check
from hub.config import HubConfig, load_hub_config
from hub.console import cli as console_cli
from hub.diagnostics import cli as diag_cli
from hub.provision import load_obce, provision_agent, revoke_agent
from protocol import ProtocolError, validate_ico
from spisync.broker import static_definitions
from spisync.check import print_findings
from spisync.errors import EXIT_CONFIG, ConfigError, SpisyncError
from spisync.logging import configure_logging
from spisync.runtime import run_main, run_service
from spisync.version import spisync_version

__all__ = ["build_parser", "main"]

log = structlog.get_logger(__name__)

_STOP_SLACK_S = 2.0


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `spisync hub`."""
    parser = argparse.ArgumentParser(prog="spisync hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    provision = sub.add_parser(
        "provision-agent", help="create or refresh an obec's broker user, queues and agent config"
    )
    provision.add_argument("--config", type=Path, required=True, help="HUB.toml")
    provision.add_argument("--ico", required=True, help="the obec's IČO")
    provision.add_argument("--name", help="the obec's name, e.g. 'Obec Vlkava'")
    provision.add_argument("--out", type=Path, help="where to write the agent's AGENT.toml")
    provision.add_argument(
        "--rotate-password", action="store_true", help="issue a new password even if one exists"
    )
    provision.add_argument(
        "--revoke", action="store_true", help="delete the obec's user and close its connections"
    )
    provision.add_argument(
        "--tls",
        action="store_true",
        help="log the agent in with a client certificate from the hub's CA instead of a password",
    )
    provision.add_argument(
        "--tls-dir",
        default="/etc/spisync",
        help="where the certificate files will be at the town hall (named in AGENT.toml)",
    )
    provision.add_argument(
        "--rotate-cert",
        action="store_true",
        help="issue a new certificate now; the old one stays valid until it expires",
    )

    ca = sub.add_parser("ca", help="the ORP's certificate authority for agents and the broker")
    ca_sub = ca.add_subparsers(dest="ca_command", required=True)
    ca_init = ca_sub.add_parser("init", help="create the CA in <data_dir>/ca")
    ca_init.add_argument("--config", type=Path, required=True, help="HUB.toml")
    server = ca_sub.add_parser("server-cert", help="issue the broker's TLS server certificate")
    server.add_argument("--config", type=Path, required=True, help="HUB.toml")
    server.add_argument("--host", required=True, help="the broker's host name or IP address")
    server.add_argument("--out-dir", type=Path, required=True, help="where to write it")

    run = sub.add_parser("run", help="run the hub: ingest every provisioned obec's changes")
    run.add_argument("--config", type=Path, required=True, help="HUB.toml")
    check_cmd = sub.add_parser(
        "check", help="check the configuration, data folder, TLS files, broker login and API"
    )
    check_cmd.add_argument("--config", type=Path, required=True, help="HUB.toml")

    for name, about in (
        ("files", "list an obec's current files (path, size, sha256, versions, deleted)"),
        ("spisy", "list an obec's spisy with their hub state, missing content and SIP"),
    ):
        query = sub.add_parser(name, help=about)
        query.add_argument("--config", type=Path, required=True, help="HUB.toml")
        query.add_argument("--ico", required=True, help="the obec's IČO")
        query.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if name == "spisy":
            query.add_argument(
                "--spis",
                metavar="ID",
                help="print one spis in detail as JSON: every registry field, dokumenty, "
                "subjekty, komponenty and events",
            )

    console_cli.add_parsers(sub)
    diag_cli.add_parser(sub)

    export = sub.add_parser(
        "export-definitions", help="print the static broker topology as RabbitMQ definitions JSON"
    )
    export.add_argument("--vhost", default="/", help="vhost to write into the definitions")
    return parser


async def _provision(args: argparse.Namespace) -> int:
    config = load_hub_config(args.config)
    if args.revoke:
        revoked = await revoke_agent(config, ico=args.ico)
        user = "deleted" if revoked.user_existed else "was already gone"
        print(f"revoked obec {args.ico}: broker user {revoked.username} {user}")
        print(f"closed {len(revoked.closed)} connection(s)")
        for connection in revoked.closed:
            print(f"  {connection}")
        if revoked.still_open:
            print(f"still open after waiting: {', '.join(revoked.still_open)}", file=sys.stderr)
            return 1
        return 0
    if not args.name or not args.out:
        print("spisync hub provision-agent: --name and --out are required", file=sys.stderr)
        return 2
    result = await provision_agent(
        config,
        ico=args.ico,
        name=args.name,
        out=args.out,
        rotate_password=args.rotate_password,
        tls=args.tls,
        tls_dir=args.tls_dir,
        rotate_cert=args.rotate_cert,
    )
    what = "created" if result.created_user else "refreshed"
    if result.rotated_password:
        what += " (new password)"
    print(
        f"obec {result.ico}: broker user {result.username} {what}; "
        f"agent config {result.config_path}"
    )
    return 0


async def _run(config: HubConfig) -> int:
    # Imported here: `export-definitions` and the queries need no broker loop.
    from hub.service import DRAIN_TIMEOUT_S, run  # noqa: PLC0415 - keeps the light subcommands light

    async def bounded(shutdown: asyncio.Event) -> None:
        service = asyncio.create_task(run(config, shutdown))
        stop = asyncio.create_task(shutdown.wait())
        await asyncio.wait([service, stop], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not service.done():
            # A signal at any stage, start-up included, ends the hub within a bound:
            # the drain, then cancellation.
            await asyncio.wait([service], timeout=DRAIN_TIMEOUT_S + _STOP_SLACK_S)
            if not service.done():
                log.warning("hub_stop_forced", after_s=DRAIN_TIMEOUT_S + _STOP_SLACK_S)
                service.cancel()
                await asyncio.wait([service])
        if not service.cancelled():
            service.result()

    await run_service(bounded)
    return 0


async def _query(args: argparse.Namespace) -> int:
    from hub.queries import (  # noqa: PLC0415 - as above
        files_rows,
        format_table,
        spis_detail_row,
        spisy_rows,
        to_json,
    )
    from hub.store import open_metadata_store  # noqa: PLC0415 - as above
    from hub.store.sqlite import DATABASE_NAME  # noqa: PLC0415 - as above

    config = load_hub_config(args.config)
    ico = validate_ico(args.ico)
    database = config.hub.data_path / DATABASE_NAME
    if not database.is_file():
        print(
            f"spisync hub {args.command}: no hub database at {database}; check [hub] data_dir "
            f"in {args.config} (the hub creates it when it first runs)",
            file=sys.stderr,
        )
        return 1
    if ico not in load_obce(config):
        print(
            f"spisync hub {args.command}: obec {ico} is not provisioned at this hub; "
            f"provision it with `spisync hub provision-agent --config {args.config} --ico {ico}`",
            file=sys.stderr,
        )
        return 1
    store = await open_metadata_store(config, instance="cli")
    try:
        if args.command == "spisy" and args.spis is not None:
            detail = await spis_detail_row(store, ico, args.spis)
            if detail is None:
                print(
                    f"spisync hub spisy: the hub holds no spis {args.spis!r} of obec {ico}",
                    file=sys.stderr,
                )
                return 1
            print(json.dumps(detail, ensure_ascii=False, indent=2))
            return 0
        if args.command == "files":
            rows = await files_rows(store, ico)
            columns = ["path", "size", "sha256", "versions", "deleted", "released"]
        else:
            rows = await spisy_rows(store, ico)
            columns = [
                "id",
                "spisova_znacka",
                "nazev",
                "stav",
                "state",
                "missing",
                "sip",
                "sip_state",
                "archive_failures",
                "placeholders",
                "reason",
            ]
    finally:
        await store.close()
    print(to_json(rows) if args.json else format_table(rows, columns))
    return 0


_BROKER_TLS_CONF = """\
Broker (rabbitmq.conf), with `rabbitmq-plugins enable rabbitmq_auth_mechanism_ssl`:
  listeners.ssl.default = 5671
  ssl_options.cacertfile = {ca}
  ssl_options.certfile = /etc/rabbitmq/server.crt
  ssl_options.keyfile = /etc/rabbitmq/server.key
  ssl_options.verify = verify_peer
  ssl_options.fail_if_no_peer_cert = true
  ssl_cert_login_from = common_name
  auth_mechanisms.1 = PLAIN
  auth_mechanisms.2 = EXTERNAL"""


def _ca(args: argparse.Namespace) -> int:
    from hub.tls import ca_dir, init_ca, load_ca  # noqa: PLC0415 - cryptography only here

    config = load_hub_config(args.config)
    folder = ca_dir(config)
    if args.ca_command == "init":
        init_ca(folder, f"spisync {config.hub.name or config.hub.orp} CA")
        print(f"CA created: {folder / 'ca.pem'} (its key {folder / 'ca.key'}, mode 0600)")
        print(_BROKER_TLS_CONF.format(ca=folder / "ca.pem"))
        return 0
    issued = load_ca(folder).issue_server(args.host)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "server.crt").write_bytes(issued.cert_pem)
    key = args.out_dir / "server.key"
    key.touch(mode=0o600)
    key.write_bytes(issued.key_pem)
    print(f"server certificate for {args.host}: {args.out_dir / 'server.crt'}, key {key}")
    return 0


def _command(args: argparse.Namespace) -> int:  # noqa: PLR0911 - one return per subcommand
    if args.command == "provision-agent":
        return run_main(_provision(args))
    if args.command == "check":
        configure_logging("hub", level="critical")  # the findings are the output
        return print_findings(run_main(check(args.config)))
    if args.command == "run":
        config = load_hub_config(args.config)
        configure_logging("hub", level=config.hub.log_level, cache=True)
        structlog.get_logger(__name__).info(
            "hub_starting", version=spisync_version(), config=str(args.config)
        )
        try:
            return run_main(_run(config))
        except Exception:
            # One line with the fix where the failure is known; the traceback only at debug.
            structlog.get_logger(__name__).exception("hub_failed")
            return 1
    if args.command in {"files", "spisy"}:
        return run_main(_query(args))
    if args.command == "ca":
        return _ca(args)
    if args.command == "diag":
        configure_logging("hub", level="error")  # the answer is the output (JSON with --json)
        return run_main(diag_cli.run(args))
    if args.command in console_cli.COMMANDS:
        return run_main(console_cli.run_command(args))
    if args.command == "export-definitions":
        print(json.dumps(static_definitions(args.vhost), indent=2, sort_keys=True))
        return 0
    return 2


def main(argv: list[str]) -> int:
    """Run `spisync hub` with `argv`; return the exit code (78 for a configuration error)."""
    args = build_parser().parse_args(argv)
    configure_logging("hub")
    try:
        return _command(args)
    except ConfigError as exc:
        print(f"spisync hub {args.command}: {exc}\n  fix: {exc.fix}", file=sys.stderr)
        return EXIT_CONFIG
    except (SpisyncError, ProtocolError) as exc:
        print(f"spisync hub {args.command}: {exc}", file=sys.stderr)
        return 2
