"""Things the agent cannot do, reported by path and reason while the rest keeps flowing.

A problem is logged once when it appears (not at every rescan), counted by
kind for the heartbeat, and forgotten when it is resolved.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import structlog

__all__ = ["FIXES", "Problem", "Problems"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Problem:
    """One thing that cannot be sent or done.

    Attributes:
        kind: Short snake_case kind (`unsafe_name`, `name_collision`,
            `symlink_outside`, `unreadable`, `folder_unavailable`, `deletions_paused`,
            `registry_invalid_record`, `registry_unreadable`).
        path: The file, folder or record concerned.
        reason: What is wrong, in plain words.
    """

    kind: str
    path: str
    reason: str


FIXES = {
    "unsafe_name": 'rename the file: no characters Windows forbids (<>:"|?*), no name '
    "ending in a dot or space, no reserved names such as CON or NUL",
    "name_collision": "rename one of the files so that their names differ by more than "
    "upper and lower case",
    "symlink_outside": "put the file itself into the folder, or watch the folder the link "
    "points to",
    "unreadable": "give the service's user read access to the file; the agent tries again",
    "folder_unavailable": "mount the share or fix [[folders]] path; deletions wait meanwhile",
    "deletions_paused": "if the files were really deleted: spisync agent allow-deletions "
    "--config AGENT.toml --folder NAME",
    "registry_unreadable": "check [registry] in AGENT.toml, that the database exists and "
    "that the service's user may read it",
    "registry_invalid_record": "correct the record in the eSSL; the agent reads it again",
}
"""What to do about each problem kind, logged with `problem_reported`."""


class Problems:
    """The open problems and a count of transient errors, by kind."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], Problem] = {}
        self._events: Counter[str] = Counter()

    def report(self, problem: Problem) -> None:
        """Record a problem; log it if it is new or its reason changed."""
        key = (problem.kind, problem.path)
        if self._open.get(key) != problem:
            log.warning(
                "problem_reported",
                kind=problem.kind,
                path=problem.path,
                reason=problem.reason,
                **({"fix": FIXES[problem.kind]} if problem.kind in FIXES else {}),
            )
        self._open[key] = problem

    def resolve(self, kind: str, path: str) -> None:
        """Forget a problem that no longer exists."""
        if self._open.pop((kind, path), None) is not None:
            log.info("problem_resolved", kind=kind, path=path)

    def resolve_all(self, kind: str, prefix: str = "") -> None:
        """Forget every problem of `kind` whose path starts with `prefix`."""
        for key in [k for k in self._open if k[0] == kind and k[1].startswith(prefix)]:
            self.resolve(*key)

    def count_event(self, kind: str) -> None:
        """Count a transient error (a failed publish, a lost connection)."""
        self._events[kind] += 1

    def open_problems(self) -> list[Problem]:
        """Return the open problems."""
        return list(self._open.values())

    def is_open(self, kind: str, path: str) -> bool:
        """Tell whether a problem is open."""
        return (kind, path) in self._open

    def errors_by_kind(self) -> dict[str, int]:
        """Open problems plus transient errors since start, by kind."""
        counts: Counter[str] = Counter(self._events)
        for kind, _ in self._open:
            counts[kind] += 1
        return dict(counts)
