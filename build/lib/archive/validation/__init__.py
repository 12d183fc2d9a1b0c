"""Validation of NSESSS SIP packages, as the regional archive receives them.

`validate_sip` checks a ZIP (or an unpacked folder) against NSESSS annex 2:
layout, encoding, the official schemas (loaded from ``archive/schemas``, no
network) and the content rules of the Národní archiv's validator. The rules
and their stable codes are tabled in `archive.validation.codes`.
"""

from __future__ import annotations

from archive.validation.codes import ALL_CODES
from archive.validation.report import RuleFailure, ValidationReport, format_report
from archive.validation.validator import validate_sip

__all__ = ["ALL_CODES", "RuleFailure", "ValidationReport", "format_report", "validate_sip"]
