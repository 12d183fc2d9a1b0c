"""`validate_sip`: run every rule the profile applies and collect every failure."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from archive.validation import (
    entity_rules,
    komponenta_rules,
    link_rules,
    mets_rules,
    plan_rules,
)
from archive.validation.container import (
    CHUNK_SIZE,
    Layout,
    Package,
    check_layout,
    open_package,
    package_name,
)
from archive.validation.container import CODES as CONTAINER_CODES
from archive.validation.context import OWN_RULES, SPISYNC_ERROR, Context
from archive.validation.external import ExternalTools, run_external
from archive.validation.file_rules import CODES as FILE_CODES
from archive.validation.file_rules import check_files, plan_files
from archive.validation.model import MetsDoc
from archive.validation.report import (
    FAILED,
    NOT_APPLICABLE,
    NOT_IMPLEMENTED,
    PASSED,
    RuleResult,
    ValidationReport,
)
from archive.validation.ruleset import SPISOVNA, national_rules, profile_codes
from archive.validation.xmldoc import CODES as XML_CODES
from archive.validation.xmldoc import load_mets
from archive.validation.xsd_rules import check_schemas

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["IMPLEMENTED", "validate_sip"]

_RULE_SETS = (
    mets_rules.RULES,
    link_rules.RULES,
    entity_rules.RULES,
    plan_rules.RULES,
    komponenta_rules.RULES,
)
_EXTERNAL = frozenset({"vir1", "kom4"})
IMPLEMENTED = (
    CONTAINER_CODES
    | XML_CODES
    | FILE_CODES
    | {"val1"}
    | frozenset().union(*(rules.codes for rules in _RULE_SETS))
)
"""Codes of the rules this validator decides by itself (vir1 and kom4 need a tool)."""


def _zip_sha256(path: Path) -> str:
    if not path.is_file():
        return ""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def _content(doc: MetsDoc, package: Package, layout: Layout, ctx: Context) -> None:
    check_schemas(doc.tree, ctx)
    for rules in _RULE_SETS:
        rules.run(doc, ctx)
    # After the rules, not beside them: a hashing thread next to pure-Python rules waits for
    # the GIL after every chunk (a convoy), which made the whole slower, not faster.
    plan = plan_files(doc, layout, ctx)
    if plan is not None:
        check_files(package, plan, ctx)


def _check(path: Path, name: str, tools: ExternalTools, ctx: Context) -> None:
    doc: MetsDoc | None = None
    layout: Layout | None = None
    package = open_package(path, ctx)
    try:
        if package is not None:
            layout = check_layout(name, package, not path.is_dir(), ctx)
            tree = None if layout.mets is None else load_mets(package, layout.mets, ctx)
            if tree is not None:
                doc = MetsDoc(tree)
                _content(doc, package, layout, ctx)
        run_external(path, tools, doc=doc, package=package, layout=layout, ctx=ctx)
    finally:
        if package is not None:
            package.close()
    if doc is None:
        ctx.skip(IMPLEMENTED, "nelze ověřit: balíček nebo mets.xml nelze přečíst")


def _results(ctx: Context, tools: ExternalTools) -> list[RuleResult]:
    active = profile_codes(ctx.profile)
    failures: dict[str, list[tuple[str, str]]] = {}
    for failure in ctx.failures:
        failures.setdefault(failure.code, []).append((failure.message, failure.location))
    results = []
    codes = [rule.code for rule in national_rules()] + [rule.code for rule in OWN_RULES]
    for code in codes:
        found = failures.get(code, [])
        is_own = code.startswith("spisync-")
        if found:
            status = FAILED
        elif not is_own and code not in active:
            status = NOT_APPLICABLE
            found = [(f"pravidlo v profilu {ctx.profile} neplatí", "")]
        elif code in ctx.ran:
            status = PASSED
        elif code in _EXTERNAL and not getattr(tools, code):
            status = NOT_IMPLEMENTED
            found = [("vyžaduje externí nástroj; není nastaven", "")]
        elif code not in IMPLEMENTED and not is_own:
            status = NOT_IMPLEMENTED
        else:
            status = NOT_APPLICABLE
            found = [(ctx.not_run.get(code, "nelze ověřit"), "")]
        results.append(
            RuleResult(
                code,
                status,
                [message for message, _ in found],
                [location for _, location in found if location],
            )
        )
    return results


def validate_sip(
    path: Path,
    profile: str = SPISOVNA,
    *,
    tools: ExternalTools | None = None,
    today: date | None = None,
    sha256: str | None = None,
    hash_package: bool = True,
) -> ValidationReport:
    """Validate a SIP (a ZIP, or an unpacked folder) by the national rules of `profile`.

    Every rule of the profile runs that can run, so the report lists every
    failure, not just the first. Bad input never raises: even an unreadable
    or non-ZIP file gives a report.

    Args:
        path: The ``.zip`` file or the package folder.
        profile: ``spisovna`` (default), ``skartacni-rizeni``,
            ``skartacni-rizeni-komponenty`` or ``prejimka``.
        tools: Commands for vir1 and kom4 (see `archive.validation.external`).
        today: The date "the current year" means (default: today, UTC).
        sha256: The ZIP's SHA-256 when the caller has verified it already (the
            archive consumer does while reassembling): saves one pass over the file.
        hash_package: Whether to hash the ZIP for ``report.sha256`` when `sha256`
            is not given (the text report does not show it).

    Returns:
        The report; ``report.ok`` is True when nothing failed.

    Raises:
        ValueError: If `profile` is unknown.
    """
    profile_codes(profile)  # Fails early on an unknown profile.
    tools = tools or ExternalTools()
    ctx = Context(profile, today or datetime.now(UTC).date())
    report = ValidationReport(package_name(path), "", profile)
    # The ZIP's own hash is one more pass over every byte: hashlib releases the GIL, so it
    # runs beside the rules instead of doubling the time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sip-sha256") as pool:
        known = sha256 if sha256 is not None or hash_package else ""
        zip_hash = pool.submit(lambda: known if known is not None else _zip_sha256(path))
        try:
            _check(path, report.sip_name, tools, ctx)
        except Exception as exc:  # A validator bug must still reject, never crash the caller.
            ctx.fail(SPISYNC_ERROR, f"{type(exc).__name__}: {exc}", path.name)
        report.sha256 = zip_hash.result()
    ctx.ran.add(SPISYNC_ERROR)
    report.failures = ctx.failures
    report.results = _results(ctx, tools)
    return report
