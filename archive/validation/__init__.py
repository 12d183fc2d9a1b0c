"""Validation of NSESSS SIP packages by the national rules (NSESSS 2024, validátor ZAF).

`validate_sip` checks a ZIP (or an unpacked folder) by the rules of one
profile: ``spisovna`` (the transfer at closing, the default), or one of the
national validator's three. Rule codes, texts and profiles come from the
national rule set (`archive.validation.ruleset`); spisync's own safety rules
are ``spisync-*`` (`archive.validation.context.OWN_RULES`). ``RULES.md`` lists
every rule and whether it is implemented.
"""

from __future__ import annotations

from archive.validation.context import OWN_RULES
from archive.validation.external import ExternalTools
from archive.validation.report import (
    RuleFailure,
    RuleResult,
    ValidationReport,
    format_report,
    report_json,
)
from archive.validation.ruleset import PROFILES, SPISOVNA, national_rules
from archive.validation.validator import IMPLEMENTED, validate_sip

ALL_CODES = frozenset([rule.code for rule in national_rules()] + [rule.code for rule in OWN_RULES])
"""Every code `validate_sip` can report."""

__all__ = [
    "ALL_CODES",
    "IMPLEMENTED",
    "PROFILES",
    "SPISOVNA",
    "ExternalTools",
    "RuleFailure",
    "RuleResult",
    "ValidationReport",
    "format_report",
    "report_json",
    "validate_sip",
]
