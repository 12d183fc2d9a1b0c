"""The distribution's extras: an agent install stays light, `all` installs every role."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(name: str, extras: frozenset[str]) -> set[str]:
    """Every distribution `name[extras]` needs, following the installed metadata."""
    visited: set[tuple[str, frozenset[str]]] = set()
    todo = [(name, extras)]
    while todo:
        current, wanted = todo.pop()
        if (_normal(current), wanted) in visited:
            continue
        visited.add((_normal(current), wanted))
        for raw in metadata.requires(current) or []:
            requirement = Requirement(raw)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in wanted | {""}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return {distribution for distribution, _ in visited}


def test_agent_extra_pulls_neither_aiobotocore_nor_aiohttp() -> None:
    """`pip install 'spisync[agent]'` needs no S3 client, HTTP client or aiosqlite."""
    needed = _closure("spisync", frozenset({"agent"}))
    assert {"watchfiles", "aio-pika", "uvloop"} <= needed
    assert "aiosqlite" not in needed  # the agent's state runs sqlite3 in its own thread
    assert "aiobotocore" not in needed
    assert "aiohttp" not in needed
    assert "lxml" not in needed


def test_all_extra_installs_every_role() -> None:
    """`pip install 'spisync[all]'` brings what the agent, the hub and the archive need."""
    needed = _closure("spisync", frozenset({"all"}))
    assert {"aiosqlite", "watchfiles", "aiobotocore", "lxml", "aio-pika"} <= needed
