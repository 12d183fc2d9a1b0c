"""`spisync archive ...`: run the regional archive consumer, validate a SIP offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import structlog

from archive.check import check
from archive.config import ArchiveConfig, load_archive_config
from archive.service import run
from archive.validation import (
    PROFILES,
    SPISOVNA,
    ExternalTools,
    format_report,
    report_json,
    validate_sip,
)
from spisync.check import print_findings
from spisync.errors import EXIT_CONFIG, ConfigError, SpisyncError
from spisync.logging import configure_logging
from spisync.runtime import run_main, run_service
from spisync.version import spisync_version

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `spisync archive`."""
    parser = argparse.ArgumentParser(prog="spisync archive", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="consume SIPs, validate, store and confirm them")
    run_parser.add_argument("--config", type=Path, required=True, help="ARCHIVE.toml")
    run_parser.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="minimum log level (default: [archive] log_level)",
    )
    check_parser = sub.add_parser(
        "check", help="check the configuration, data folder, TLS files, broker login and inbox"
    )
    check_parser.add_argument("--config", type=Path, required=True, help="ARCHIVE.toml")
    validate = sub.add_parser(
        "validate", help="check a SIP (ZIP or folder) offline and print every failing rule"
    )
    validate.add_argument("path", type=Path, help="the SIP's .zip file or unpacked folder")
    validate.add_argument(
        "--profile",
        choices=PROFILES,
        default=SPISOVNA,
        help="which rules apply (default: spisovna, the transfer at closing)",
    )
    validate.add_argument(
        "--json", action="store_true", help="print the report as JSON, with every rule's result"
    )
    validate.add_argument(
        "--vir1-command", default="", help="malware scanner for rule vir1, e.g. 'clamdscan {path}'"
    )
    validate.add_argument(
        "--kom4-command", default="", help="PDF/A validator for rule kom4 ({path} = one PDF)"
    )
    return parser


def _validate(path: Path, *, profile: str, as_json: bool, tools: ExternalTools) -> int:
    if not path.exists():
        print(f"spisync archive validate: {path}: soubor ani složka neexistuje", file=sys.stderr)
        return EXIT_USAGE
    report = validate_sip(path, profile, tools=tools, hash_package=as_json)
    if as_json:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    return EXIT_OK if report.ok else EXIT_INVALID


async def _serve(config: ArchiveConfig) -> None:
    await run_service(lambda stop: run(config, stop))


def main(argv: list[str]) -> int:  # noqa: PLR0911 - one return per outcome
    """Run `spisync archive` with `argv`; return the exit code.

    Exit codes: 0 success (or a valid SIP), 1 a SIP that fails rules, a failed
    check or a service that stopped on an error, 2 a usage error, 78
    (`EXIT_CONFIG`) a configuration error.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "validate":
        tools = ExternalTools(vir1=args.vir1_command, kom4=args.kom4_command)
        return _validate(args.path, profile=args.profile, as_json=args.json, tools=tools)
    if args.command == "check":
        configure_logging("archive", level="critical")  # the findings are the output
        return print_findings(run_main(check(args.config)))
    try:
        config = load_archive_config(args.config)
        configure_logging("archive", level=args.log_level or config.archive.log_level, cache=True)
        structlog.get_logger(__name__).info(
            "archive_starting", version=spisync_version(), config=str(args.config)
        )
        run_main(_serve(config))
    except ConfigError as exc:
        print(f"spisync archive run: {exc}\n  fix: {exc.fix}", file=sys.stderr)
        return EXIT_CONFIG
    except SpisyncError as exc:
        print(f"spisync archive run: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except Exception:  # An ExceptionGroup from the TaskGroup: systemd restarts us.
        structlog.get_logger(__name__).exception("archive_failed")
        return EXIT_INVALID
    return EXIT_OK
