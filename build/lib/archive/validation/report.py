"""The outcome of validating a SIP and its human-readable form."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RuleFailure", "ValidationReport", "format_report"]


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """One failed rule.

    Attributes:
        code: Stable rule code (see `archive.validation.codes`).
        message: What is wrong, in Czech, for the operator.
        location: Where: a path in the package or ``mets.xml:<line> <element>``.
    """

    code: str
    message: str
    location: str


@dataclass(slots=True)
class ValidationReport:
    """Every rule a SIP failed.

    Attributes:
        sip_name: Name of the package (the ZIP's name without ``.zip``, or the
            folder's name).
        sha256: Lower-case hex SHA-256 of the ZIP; empty for a folder or a
            file that could not be read.
        failures: Every failed rule, in the order they were checked.
    """

    sip_name: str
    sha256: str
    failures: list[RuleFailure] = field(default_factory=list)

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

    Each failure line is ``CODE  location: message`` with the codes padded to
    one width so the locations line up.

    Args:
        report: The report of `validate_sip`.

    Returns:
        Text without a trailing newline.
    """
    name = report.sip_name or "(bez názvu)"
    if report.ok:
        return f"SIP {name}: v pořádku, žádná chyba"
    width = max(len(failure.code) for failure in report.failures)
    lines = [f"SIP {name}: {_chyby(len(report.failures))}"]
    lines.extend(
        f"{failure.code:<{width}}  {failure.location or '-'}: {failure.message}"
        for failure in report.failures
    )
    return "\n".join(lines)
