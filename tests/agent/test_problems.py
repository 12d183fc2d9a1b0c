"""A reported problem is one line that says what to do about it."""

from __future__ import annotations

import re

import structlog

from agent.problems import FIXES, Problem, Problems


def test_every_problem_kind_has_a_fix() -> None:
    """Each kind the Problem docstring lists has a fix for the operator."""
    assert Problem.__doc__ is not None
    documented = set(re.findall(r"`([a-z_]+)`", Problem.__doc__.split("path:")[0]))
    assert documented
    assert documented <= set(FIXES)


def test_problem_reported_carries_its_fix() -> None:
    """`problem_reported` names kind, path, reason and the fix, once per problem."""
    problems = Problems()
    with structlog.testing.capture_logs() as logs:
        problems.report(Problem("unreadable", "smlouva.docx", "cannot read: denied"))
        problems.report(Problem("unreadable", "smlouva.docx", "cannot read: denied"))
    [line] = logs
    assert line["fix"] == FIXES["unreadable"]
    assert line["path"] == "smlouva.docx"
