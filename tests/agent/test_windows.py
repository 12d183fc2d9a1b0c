"""Windows town halls, simulated on Linux: a file Office holds open is retried, not a problem."""

from __future__ import annotations

from pathlib import Path

import structlog

import agent.hasher
from agent.config import load_agent_config


class SharingViolationError(PermissionError):
    """What Windows raises for a file another program holds without sharing (ERROR_SHARING_VIOLATION)."""

    winerror = 32


async def test_a_file_locked_by_office_is_retried_and_never_reported(agent_env, monkeypatch):
    """A sharing violation schedules another look and reports no problem; the file arrives when free."""
    real_hash = agent.hasher.digest_file
    locked = {"left": 2}

    def office_holds_it(root, path, chunk_size, sink=None):  # runs in a hashing thread
        if path.endswith("smlouva.docx") and locked["left"]:
            locked["left"] -= 1
            raise SharingViolationError(13, "The process cannot access the file", path)
        return real_hash(root, path, chunk_size, sink)

    monkeypatch.setattr(agent.hasher, "digest_file", office_holds_it)
    folder = agent_env.folder
    (folder / "smlouva.docx").write_bytes(b"open in Word")
    (folder / "volny.txt").write_bytes(b"free")
    reader = await agent_env.reader()
    with structlog.testing.capture_logs() as logs:
        await agent_env.start()
        await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
    events = [e["event"] for e in logs if e.get("path") == "smlouva.docx"]
    assert events.count("file_in_use_retry_scheduled") == 2
    assert "problem_reported" not in events
    assert not reader.violations


def test_windows_config_example_keeps_backslashes_and_unc_paths() -> None:
    """The Windows example parses: literal strings keep drive paths and UNC shares as written."""
    example = Path(__file__).resolve().parents[2] / "packaging/config/agent.windows.example.toml"
    config = load_agent_config(example)
    assert [f.path for f in config.folders] == [r"D:\Dokumenty\Podatelna", r"\\fileserver\spisovna"]
    assert config.agent.state_dir == r"C:\ProgramData\spisync\state"
    assert config.registry is not None
    assert config.registry.path == r"\\fileserver\essl\registry.sqlite"
