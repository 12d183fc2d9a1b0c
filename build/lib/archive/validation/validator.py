"""`validate_sip`: run every rule and collect every failure."""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING

from archive.validation import codes
from archive.validation.container import (
    METS_FILE,
    check_layout,
    hash_file,
    open_package,
    package_name,
)
from archive.validation.file_rules import check_files
from archive.validation.mets_rules import check_mets
from archive.validation.nsesss_rules import check_nsesss
from archive.validation.report import RuleFailure, ValidationReport
from archive.validation.schemas import METS_NS
from archive.validation.xmldoc import parse_mets
from archive.validation.xsd_rules import check_schemas

if TYPE_CHECKING:
    from pathlib import Path

    from archive.validation.container import Layout, Package

__all__ = ["MAX_METS_SIZE", "validate_sip"]

MAX_METS_SIZE = 512 * 1024 * 1024
"""mets.xml is parsed in memory; anything larger is not a real spis."""


def _zip_sha256(path: Path) -> str:
    if not path.is_file():
        return ""
    try:
        with path.open("rb") as handle:
            return hash_file(handle)[0]
    except OSError:
        return ""


def _read_mets(package: Package, layout: Layout, failures: list[RuleFailure]) -> bytes | None:
    path = f"{layout.folder}/{METS_FILE}"
    try:
        with package.open(path) as stream:
            data = stream.read(MAX_METS_SIZE + 1)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        failures.append(RuleFailure(codes.SIP_CORRUPT, f"soubor nejde přečíst: {exc}", path))
        return None
    if len(data) > MAX_METS_SIZE:
        message = f"mets.xml je větší než {MAX_METS_SIZE} B"
        failures.append(RuleFailure(codes.SIP_CORRUPT, message, path))
        return None
    return data


def _check(path: Path, report: ValidationReport) -> None:
    failures = report.failures
    package = open_package(path, failures)
    if package is None:
        return
    try:
        layout = check_layout(report.sip_name, package, failures)
        if not layout.has_mets:
            return
        data = _read_mets(package, layout, failures)
        tree = None if data is None else parse_mets(data, failures)
        if tree is None:
            return
        check_schemas(tree, failures)
        if tree.getroot().tag != f"{{{METS_NS}}}mets":
            return  # Not METS at all: XSD-METS says so, the other rules would only add noise.
        check_mets(tree, failures)
        check_files(tree, package, layout, failures)
        check_nsesss(tree, failures)
    finally:
        package.close()


def validate_sip(path: Path) -> ValidationReport:
    """Validate a SIP (a ZIP, or an unpacked folder) against NSESSS annex 2.

    Every rule runs that can run, so the report lists every failure, not just
    the first; rules that depend on an unreadable part are skipped. The rules
    and their codes are listed in `archive.validation.codes`. Bad input never
    raises: even an unreadable or non-ZIP file gives a report.

    Args:
        path: The ``.zip`` file or the package folder.

    Returns:
        The report; ``report.ok`` is True when nothing failed.
    """
    report = ValidationReport(sip_name=package_name(path), sha256=_zip_sha256(path))
    try:
        _check(path, report)
    except Exception as exc:  # A validator bug must still reject, never crash the caller.
        message = f"validátor selhal: {type(exc).__name__}: {exc}"
        report.failures.append(RuleFailure(codes.VALIDATOR_ERROR, message, path.name))
    return report
