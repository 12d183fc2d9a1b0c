"""The event loop the roles run on."""

from __future__ import annotations

import asyncio
import sys

import pytest

from spisync.runtime import run_main


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_roles_run_on_uvloop_where_it_is_installed() -> None:
    """`run_main` runs the coroutine on uvloop's loop when uvloop is installed (Linux)."""
    assert run_main(_loop_module()).startswith("uvloop")


def test_roles_fall_back_to_the_standard_loop_without_uvloop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without uvloop (as on Windows) `run_main` still runs the coroutine, on asyncio's loop."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert run_main(_loop_module()).startswith("asyncio")
