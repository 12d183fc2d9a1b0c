"""`spisync agent ...`: run, check the set-up, approve a paused mass deletion, diag-log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from agent.check import check
from agent.config import AgentConfig, load_agent_config
from agent.service import run
from agent.state import State
from agent.status import status_lines
from spisync.check import print_findings
from spisync.errors import EXIT_CONFIG, ConfigError, SpisyncError
from spisync.logging import configure_logging
from spisync.memory import limit_heap_arenas
from spisync.runtime import run_main, run_service
from spisync.version import spisync_version

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `spisync agent`."""
    parser = argparse.ArgumentParser(prog="spisync agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="watch the folders and registry and send every change")
    run_cmd.add_argument("--config", type=Path, required=True, help="AGENT.toml")
    check_cmd = sub.add_parser(
        "check", help="check the configuration, folder and registry access, broker login"
    )
    check_cmd.add_argument("--config", type=Path, required=True, help="AGENT.toml")
    status_cmd = sub.add_parser(
        "status", help="how far the sync is: files and bytes waiting, rate, time left (in Czech)"
    )
    status_cmd.add_argument("--config", type=Path, required=True, help="AGENT.toml")
    allow = sub.add_parser(
        "allow-deletions",
        help="let the next scan send the deletions that were paused for a folder",
    )
    allow.add_argument("--config", type=Path, required=True, help="AGENT.toml")
    allow.add_argument("--folder", required=True, help="the folder's name or path")
    diag_log = sub.add_parser(
        "diag-log", help="print the journal of the helpdesk's diagnostics requests to this agent"
    )
    diag_log.add_argument("--config", type=Path, required=True, help="AGENT.toml")
    diag_log.add_argument("--json", action="store_true", help="print JSON lines")
    return parser


_EVENTS = {
    "received": "přijato",
    "refused": "odmítnuto",
    "expired": "vypršelo",
    "running": "běží",
    "done": "hotovo",
    "failed": "selhalo",
}


def _diag_log(config: AgentConfig, *, as_json: bool) -> int:
    import msgspec  # noqa: PLC0415 - only this subcommand needs it

    from agent.diagnostics.journal import Journal  # noqa: PLC0415 - as above

    entries = Journal(config.agent.state_path / "diagnostics").read()
    if as_json:
        for entry in entries:
            print(msgspec.json.encode(entry).decode())
        return 0
    if not entries:
        print("žádné požadavky na diagnostiku")
        return 0
    for e in entries:
        args = " ".join(f"--{k} {v}" for k, v in e.args.items())
        size = "" if e.result_bytes is None else f" {e.result_bytes} B"
        digest = "" if e.sha256 is None else f" sha256 {e.sha256}"
        print(
            f"{e.at.isoformat(timespec='seconds')}  {e.request_id}  "
            f"{_EVENTS.get(e.event, e.event)}  {e.verb} {args}".rstrip()
            + f"  operátor {e.operator or '?'} (uživatel {e.user_id or '?'}){size}{digest}"
            + (f"  {e.detail}" if e.detail else "")
        )
    return 0


async def _run(config: AgentConfig) -> None:
    await run_service(lambda stop: run(config, stop))


def _check(config_path: Path) -> int:
    # The findings are the output: a library's own error lines would only repeat them.
    configure_logging("agent", level="critical")
    return print_findings(run_main(check(config_path)))


async def _allow(config: AgentConfig, folder: str) -> int:
    keys = [f.path for f in config.folders if folder in {f.path, f.name}]
    if not keys:
        print(f"spisync agent: no folder named {folder!r} in the configuration", file=sys.stderr)
        return 2
    state = await State.open(config.agent.state_path / "state.sqlite")
    try:
        await state.set_meta(f"allow_deletions:{keys[0]}", "1")
    finally:
        await state.close()
    print(
        f"deletions in {keys[0]} will be sent at the next scan (the agent rescans hourly, "
        "or restart it to apply now)"
    )
    return 0


def main(argv: list[str]) -> int:  # noqa: PLR0911 - one return per outcome
    """Run `spisync agent` with `argv`; return the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return _check(args.config)
    try:
        config = load_agent_config(args.config)
        if args.command == "allow-deletions":
            return run_main(_allow(config, args.folder))
        if args.command == "status":
            lines, code = status_lines(config)
            print("\n".join(lines))
            return code
        if args.command == "diag-log":
            return _diag_log(config, as_json=args.json)
        configure_logging("agent", level=config.agent.log_level, cache=True)
        log = structlog.get_logger(__name__)
        log.info("agent_starting", version=spisync_version(), config=str(args.config))
        _warn_user_mismatch(config)
        # A town hall's PC: a small resident footprint matters more than malloc
        # contention between our few worker threads.
        limit_heap_arenas(2)
        run_main(_run(config))
    except ConfigError as exc:
        print(f"spisync agent {args.command}: {exc}\n  fix: {exc.fix}", file=sys.stderr)
        return EXIT_CONFIG
    except SpisyncError as exc:
        print(f"spisync agent {args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception:
        # One line with the fix where the failure is known (spisync.failures); the
        # traceback only at debug. systemd restarts the agent.
        structlog.get_logger(__name__).exception("agent_failed")
        return 1
    return 0


def _warn_user_mismatch(config: AgentConfig) -> None:
    """Say at once when the broker user is not this obec's: the hub would refuse everything."""
    user, ico = config.broker.username, config.agent.ico
    if urlsplit(config.broker.url).username and not user.endswith(f"obec-{ico}"):
        structlog.get_logger(__name__).error(
            "broker_user_mismatch",
            user=user,
            ico=ico,
            problem=f"the broker user is not obec {ico}'s; the hub refuses its messages",
            fix="install the AGENT.toml the ORP provisioned for this obec "
            "([agent] ico and the user in [broker] url belong together)",
        )
