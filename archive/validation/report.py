"""The outcome of validating a SIP: failures, per-rule results, and their printed forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FAILED",
    "NOT_APPLICABLE",
    "NOT_IMPLEMENTED",
    "PASSED",
    "RuleFailure",
    "RuleResult",
    "ValidationReport",
    "format_report",
    "report_json",
]

PASSED = "passed"
FAILED = "failed"
NOT_APPLICABLE = "not_applicable"
NOT_IMPLEMENTED = "not_implemented"


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """One failure of one rule.

    Attributes:
        code: The national rule code (``obs54``, ``kom2``, ...) or spisync's own
            (``spisync-doctype``, ...).
        message: The rule's error text in Czech, with what was found.
        location: Where: a path in the package, or ``mets.xml:<line> <XPath>``.
    """

    code: str
    message: str
    location: str


@dataclass(slots=True)
class RuleResult:
    """What one rule concluded.

    Attributes:
        code: The rule's code.
        status: ``passed``, ``failed``, ``not_applicable`` (not in this profile,
            or it could not run because an earlier rule failed) or
            ``not_implemented``.
        messages: The failure messages, or why the rule did not run.
        locations: Where each failure is (same order as `messages` for failures).
    """

    code: str
    status: str
    messages: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ValidationReport:
    """Every rule a SIP failed, and what each rule of the profile concluded.

    Attributes:
        sip_name: Name of the package (the ZIP's name without ``.zip``, or the
            folder's name).
        sha256: Lower-case hex SHA-256 of the ZIP; empty for a folder, a file
            that could not be read, or when the caller did not ask for it.
        profile: The validation profile the rules were chosen by.
        failures: Every failure, in the order found; any failure rejects.
        results: One result per national rule (document order), then spisync's own.
    """

    sip_name: str
    sha256: str
    profile: str = "spisovna"
    failures: list[RuleFailure] = field(default_factory=list)
    results: list[RuleResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no rule failed."""
        return not self.failures

    @property
    def codes(self) -> set[str]:
        """The codes of the failed rules."""
        return {failure.code for failure in self.failures}


def _chyby(count: int) -> str:
    """Czech plural of "chyba" (error) after a number."""
    if count == 1:
        return "1 chyba"
    if 2 <= count <= 4:
        return f"{count} chyby"
    return f"{count} chyb"


def format_report(report: ValidationReport) -> str:
    """Render a report for people: a summary line, then one line per failure.

    Each failure line is ``code  location: message`` with the codes padded to
    one width so the locations line up. A last line names the rules of the
    profile that were not checked because their outside tool is not set.

    Args:
        report: The report of `validate_sip`.

    Returns:
        Text without a trailing newline.
    """
    name = report.sip_name or "(bez názvu)"
    head = f"SIP {name} (profil {report.profile})"
    unchecked = [r.code for r in report.results if r.status == NOT_IMPLEMENTED]
    # An archivist must see that "valid" did not include, say, the malware scan.
    note = [f"Neověřeno (chybí externí nástroj): {', '.join(unchecked)}"] if unchecked else []
    if report.ok:
        return "\n".join([f"{head}: v pořádku, žádná chyba", *note])
    width = max(len(failure.code) for failure in report.failures)
    lines = [f"{head}: {_chyby(len(report.failures))}"]
    lines.extend(
        f"{failure.code:<{width}}  {failure.location or '-'}: {failure.message}"
        for failure in report.failures
    )
    return "\n".join([*lines, *note])


def report_json(report: ValidationReport) -> dict[str, Any]:
    """The report as a JSON-ready dict: summary, failures and every rule's result."""
    return {
        "sip_name": report.sip_name,
        "sha256": report.sha256,
        "profile": report.profile,
        "ok": report.ok,
        "failures": [
            {"code": f.code, "message": f.message, "location": f.location} for f in report.failures
        ],
        "rules": [
            {
                "code": r.code,
                "status": r.status,
                "messages": r.messages,
                "locations": r.locations,
            }
            for r in report.results
        ],
    }
