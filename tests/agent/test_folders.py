"""Folders to the hub: scans, events, rescans, ignore rules, names, symlinks, deletions."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import unicodedata
from pathlib import Path

import structlog

import agent.hasher
import agent.watcher
from agent.cli import main as agent_cli
from agent.watcher import FolderWatcher
from protocol import Tombstone


async def test_initial_scan_events_and_deletions_reach_the_hub(agent_env):
    """Files present at start, created, changed, renamed and deleted later all reach the hub."""
    folder = agent_env.folder
    (folder / "a.txt").write_bytes(b"alpha" * 1000)
    (folder / "sub").mkdir()
    (folder / "sub" / "b.pdf").write_bytes(os.urandom(5000))
    (folder / "empty.txt").write_bytes(b"")
    reader = await agent_env.reader()
    await agent_env.start()
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))

    (folder / "c.txt").write_bytes(b"new file")
    (folder / "a.txt").write_bytes(b"changed alpha")
    (folder / "sub" / "b.pdf").rename(folder / "sub" / "b-renamed.pdf")
    (folder / "empty.txt").unlink()
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
    assert {t.path for t in reader.of(Tombstone)} == {"empty.txt", "sub/b.pdf"}
    assert not reader.violations


async def test_rescan_finds_changes_that_no_event_reported_and_rehashes_nothing_unchanged(
    agent_env, monkeypatch
):
    """With events lost (e.g. an SMB share), the periodic rescan finds changes by stat alone."""
    monkeypatch.setattr(FolderWatcher, "_on_event", lambda self, path: None)
    hashed: list[str] = []
    real_hash = agent.hasher.digest_file

    def counting_hash(root, path, chunk_size, sink=None):  # runs in a hashing thread
        hashed.append(path)
        return real_hash(root, path, chunk_size, sink)

    monkeypatch.setattr(agent.hasher, "digest_file", counting_hash)
    folder = agent_env.folder
    for i in range(20):
        (folder / f"f{i}.txt").write_bytes(f"file {i}".encode())
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(rescan_interval_s=0.3))
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
    hashed_after_first_scan = len(hashed)

    (folder / "f3.txt").write_bytes(b"changed without an event")
    (folder / "f7.txt").unlink()
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
    heartbeats_seen = len(reader.heartbeats)
    await agent_env.eventually(lambda: len(reader.heartbeats) > heartbeats_seen + 3)
    assert len(hashed) == hashed_after_first_scan + 1


async def test_lock_and_temp_files_are_ignored(agent_env):
    """Office/LibreOffice locks, temp files, Thumbs.db, desktop.ini and configured patterns never go."""
    folder = agent_env.folder
    for name in [
        "~$smlouva.docx",
        ".~lock.zapis.odt#",
        "x.tmp",
        "Thumbs.db",
        "desktop.ini",
        "DESKTOP.INI",
        "copy.bak",
    ]:
        (folder / name).write_bytes(b"ignore me")
    (folder / "cache.bak").mkdir()
    (folder / "cache.bak" / "inner.txt").write_bytes(b"ignored with its folder")
    (folder / "real.docx").write_bytes(b"a real document")
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(ignore=["*.bak"]))
    await agent_env.eventually(lambda: "real.docx" in reader.current())
    (folder / "~$real.docx").write_bytes(b"lock written while the agent runs")
    (folder / "later.txt").write_bytes(b"marker")
    await agent_env.eventually(lambda: "later.txt" in reader.current())
    assert set(reader.current()) == {"real.docx", "later.txt"}


async def test_a_file_written_the_moment_the_first_scan_ends_arrives_by_its_event(
    agent_env, monkeypatch
):
    """The watch is in place before the first scan: what the scan cannot see, an event tells.

    The agent starts scanning as soon as the watch is set up (no settling
    pause); a file written right after the scan's listing, with no rescan for
    an hour, can only arrive through its change event.
    """
    folder = agent_env.folder
    real_scan_all = FolderWatcher.scan_all

    async def scan_then_write(self: FolderWatcher) -> None:
        await real_scan_all(self)
        (folder / "late.pdf").write_bytes(b"written as the first scan ended")

    monkeypatch.setattr(FolderWatcher, "scan_all", scan_then_write)
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(rescan_interval_s=3600.0))
    await agent_env.eventually(
        lambda: reader.current().get("late.pdf") == b"written as the first scan ended"
    )


async def test_a_file_is_sent_only_after_its_quiet_window(agent_env):
    """A file still being written is not sent; once quiet, exactly its final content is."""
    folder = agent_env.folder
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(quiet_window_s=1.0))
    await agent_env.eventually(reader.scanned)
    path = folder / "scan.pdf"
    with path.open("wb") as handle:
        for i in range(30):
            handle.write(os.urandom(100) + bytes([i]))
            handle.flush()
            await asyncio.sleep(0.05)
    await agent_env.eventually(lambda: reader.current().get("scan.pdf") == path.read_bytes())
    await asyncio.sleep(1.5)
    assert [m.sha256 for m in reader.manifests if m.path == "scan.pdf"] == [
        hashlib.sha256(path.read_bytes()).hexdigest()
    ]


async def test_a_scan_sends_long_unmodified_files_at_once_and_fresh_ones_after_the_window(
    agent_env,
):
    """At start, a file untouched for an hour goes without a quiet window; one modified just now waits it out."""
    folder = agent_env.folder
    (folder / "old.pdf").write_bytes(b"registered last year")
    an_hour_ago = (folder / "old.pdf").stat().st_mtime - 3600
    os.utime(folder / "old.pdf", (an_hour_ago, an_hour_ago))
    (folder / "fresh.pdf").write_bytes(b"scanned a moment ago")
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(quiet_window_s=60.0))
    await agent_env.eventually(lambda: "old.pdf" in reader.current())
    assert "fresh.pdf" not in reader.current()


async def test_a_file_changed_while_being_sent_goes_as_its_new_version_never_a_mix(agent_env):
    """Content that changes mid-transfer is never announced; its new version arrives whole."""
    folder = agent_env.folder
    old = os.urandom(12 * 1024)
    new = os.urandom(12 * 1024)
    (folder / "big.bin").write_bytes(old)
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(bandwidth_limit_bytes_per_s=4096))
    old_sha = hashlib.sha256(old).hexdigest()
    await agent_env.eventually(
        lambda: sum(1 for o, _ in reader.chunk_deliveries if o == old_sha) >= 3
    )
    (folder / "big.bin").write_bytes(new)
    await agent_env.eventually(lambda: reader.current().get("big.bin") == new)
    assert old_sha not in {m.sha256 for m in reader.manifests}
    assert not reader.violations


async def test_nfd_names_arrive_as_nfc_and_collisions_are_reported(agent_env):
    """NFD names arrive in NFC; two names equal after normalisation are reported, others flow."""
    folder = agent_env.folder
    nfd_dir = unicodedata.normalize("NFD", "Žádosti")
    (folder / nfd_dir).mkdir()
    (folder / nfd_dir / unicodedata.normalize("NFD", "přihláška č. 1.pdf")).write_bytes(b"nfd")
    (folder / unicodedata.normalize("NFC", "Účetnictví.xlsx")).write_bytes(b"collides, NFC")
    (folder / unicodedata.normalize("NFD", "Účetnictví.xlsx")).write_bytes(b"collides, NFD")
    (folder / "ok.txt").write_bytes(b"fine")
    reader = await agent_env.reader()
    with structlog.testing.capture_logs() as logs:
        await agent_env.start()
        await agent_env.eventually(
            lambda: set(reader.current()) == {"Žádosti/přihláška č. 1.pdf", "ok.txt"}
        )
        await agent_env.eventually(
            lambda: reader.heartbeats and reader.heartbeats[-1].errors_by_kind.get("name_collision")
        )
    collisions = [
        e for e in logs if e["event"] == "problem_reported" and e["kind"] == "name_collision"
    ]
    assert len(collisions) == 2
    assert all("normalisation" in e["reason"] for e in collisions)
    assert reader.current()["Žádosti/přihláška č. 1.pdf"] == b"nfd"


async def test_unsafe_names_are_reported_with_the_reason_and_the_rest_flows(agent_env):
    """Control characters, Windows-forbidden characters and trailing dots are reported by path."""
    folder = agent_env.folder
    for name in ["bell\x07.txt", "otaznik?.txt", "tecka."]:
        (folder / name).write_bytes(b"cannot be sent safely")
    (folder / "good.txt").write_bytes(b"flows")
    reader = await agent_env.reader()
    with structlog.testing.capture_logs() as logs:
        await agent_env.start()
        await agent_env.eventually(lambda: set(reader.current()) == {"good.txt"})
        await agent_env.eventually(
            lambda: (
                reader.heartbeats and reader.heartbeats[-1].errors_by_kind.get("unsafe_name") == 3
            )
        )
    reported = {e["path"]: e["reason"] for e in logs if e["event"] == "problem_reported"}
    assert "control character" in reported["bell\x07.txt"]
    assert "Windows" in reported["otaznik?.txt"]
    assert "ends with a space or dot" in reported["tecka."]


async def test_names_windows_cannot_hold_are_reported_and_not_sent(agent_env):
    """Reserved device names, look-alike slashes and dots that only NFKC reveals are reported by path; the rest flows."""
    folder = agent_env.folder
    names = {
        "CON.txt": "reserves",
        "nul": "reserves",
        "COM\u00b9.pdf": "reserves",
        "\uff0e\uff0e": "'..'",
        "smlouva\u2215dodatek.pdf": "U+2215",
        "rozpocet\u2044final.xlsx": "U+2044",
        "zapis\uff0e": "NFKC",
    }
    for name in names:
        (folder / name).write_bytes(b"cannot live on a Windows share")
    (folder / "Console.txt").write_bytes(b"flows")
    reader = await agent_env.reader()
    with structlog.testing.capture_logs() as logs:
        await agent_env.start()
        await agent_env.eventually(lambda: set(reader.current()) == {"Console.txt"})
        await agent_env.eventually(
            lambda: (
                reader.heartbeats
                and reader.heartbeats[-1].errors_by_kind.get("unsafe_name") == len(names)
            )
        )
    reported = {e["path"]: e["reason"] for e in logs if e["event"] == "problem_reported"}
    for name, why in names.items():
        assert why in reported[name], reported


async def test_names_differing_only_in_case_are_reported_and_neither_overwrites_the_other(
    agent_env,
):
    """Twins by case or compatibility characters are reported by path, and both arrive whole under their own paths."""
    folder = agent_env.folder
    (folder / "case.txt").write_bytes(b"lower")
    (folder / "CASE.TXT").write_bytes(b"UPPER")
    (folder / "Spisy").mkdir()
    (folder / "spisy").mkdir()
    (folder / "Spisy" / "zapis.pdf").write_bytes(b"first folder")
    (folder / "spisy" / "zapis.pdf").write_bytes(b"second folder")
    (folder / "\ufb01nance.txt").write_bytes(b"ligature")
    (folder / "finance.txt").write_bytes(b"plain")
    (folder / "alone.txt").write_bytes(b"no twin")
    twins = {
        "case.txt",
        "CASE.TXT",
        "Spisy/zapis.pdf",
        "spisy/zapis.pdf",
        "\ufb01nance.txt",
        "finance.txt",
    }
    reader = await agent_env.reader()
    with structlog.testing.capture_logs() as logs:
        await agent_env.start()
        await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
        await agent_env.eventually(
            lambda: (
                reader.heartbeats
                and reader.heartbeats[-1].errors_by_kind.get("name_collision") == len(twins)
            )
        )
    assert reader.current()["case.txt"] == b"lower"
    assert reader.current()["CASE.TXT"] == b"UPPER"
    reported = {
        e["path"]: e["reason"]
        for e in logs
        if e["event"] == "problem_reported" and e["kind"] == "name_collision"
    }
    assert set(reported) == twins
    assert "'CASE.TXT'" in reported["case.txt"]
    assert "'case.txt'" in reported["case.txt"]
    assert not reader.violations


async def test_a_twin_by_case_written_while_running_is_reported_before_any_rescan(agent_env):
    """A file whose name differs from an existing one only in case is reported when it appears, not at the hourly rescan."""
    folder = agent_env.folder
    (folder / "dopis.txt").write_bytes(b"first")
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(rescan_interval_s=3600))
    await agent_env.eventually(lambda: reader.current().get("dopis.txt") == b"first")
    with structlog.testing.capture_logs() as logs:
        (folder / "DOPIS.TXT").write_bytes(b"second")
        await agent_env.eventually(lambda: reader.current().get("DOPIS.TXT") == b"second")
        await agent_env.eventually(
            lambda: (
                {
                    e["path"]
                    for e in logs
                    if e["event"] == "problem_reported" and e["kind"] == "name_collision"
                }
                == {"dopis.txt", "DOPIS.TXT"}
            )
        )
    assert reader.current().get("dopis.txt") == b"first"


async def test_symlinks_never_lead_outside_the_folder(agent_env):
    """A symlink out of the folder is reported and never read; one inside it is followed."""
    outside = agent_env.base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"TOP SECRET payroll")
    folder = agent_env.folder
    (folder / "real.txt").write_bytes(b"inside")
    (folder / "escape.txt").symlink_to(outside / "secret.txt")
    (folder / "escape-dir").symlink_to(outside, target_is_directory=True)
    (folder / "alias.txt").symlink_to(folder / "real.txt")
    reader = await agent_env.reader()
    await agent_env.start()
    await agent_env.eventually(lambda: set(reader.current()) == {"real.txt", "alias.txt"})
    await agent_env.eventually(
        lambda: (
            reader.heartbeats and reader.heartbeats[-1].errors_by_kind.get("symlink_outside") == 2
        )
    )
    assert b"TOP SECRET payroll" not in reader.chunks.values()
    assert reader.current()["alias.txt"] == b"inside"


async def test_an_unreadable_file_is_retried_with_backoff_and_reported(agent_env, monkeypatch):
    """A file that cannot be read is reported and retried until it can; the rest flows meanwhile."""
    real_hash = agent.hasher.digest_file
    failures = {"left": 2}

    def flaky_hash(root, path, chunk_size, sink=None):  # runs in a hashing thread
        if path.endswith("locked.docx") and failures["left"]:
            failures["left"] -= 1
            raise PermissionError(13, "Permission denied", path)
        return real_hash(root, path, chunk_size, sink)

    monkeypatch.setattr(agent.hasher, "digest_file", flaky_hash)
    folder = agent_env.folder
    (folder / "locked.docx").write_bytes(b"opened exclusively by Word")
    (folder / "free.txt").write_bytes(b"free")
    reader = await agent_env.reader()
    with structlog.testing.capture_logs() as logs:
        await agent_env.start()
        await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
    events = [e["event"] for e in logs if e.get("path") == "locked.docx"]
    assert events.count("file_read_retry_scheduled") == 2
    assert "problem_reported" in events
    assert "problem_resolved" in events


async def test_a_file_gone_between_the_scan_and_its_hashing_is_not_reported_unreadable(
    agent_env, monkeypatch
):
    """A long-unmodified file the scan found is deleted before it is read: no problem, no version, the rest flows."""
    real_hash = agent.hasher.digest_file

    def deleting_hash(root, path, chunk_size, sink=None):  # runs in a hashing thread
        if path.endswith("gone.txt"):
            Path(path).unlink()
        return real_hash(root, path, chunk_size, sink)

    monkeypatch.setattr(agent.hasher, "digest_file", deleting_hash)
    folder = agent_env.folder
    for name in ("gone.txt", "kept.txt"):
        (folder / name).write_bytes(name.encode())
        an_hour_ago = (folder / name).stat().st_mtime - 3600
        os.utime(folder / name, (an_hour_ago, an_hour_ago))
    reader = await agent_env.reader()
    with structlog.testing.capture_logs() as logs:
        await agent_env.start()
        await agent_env.eventually(lambda: "kept.txt" in reader.current())
    assert not (folder / "gone.txt").exists()
    assert "gone.txt" not in reader.current()
    assert [e for e in logs if e.get("path") == "gone.txt" and "problem" in e["event"]] == []


async def test_mass_disappearance_pauses_deletions_until_approved(agent_env):
    """Losing more than the threshold at once (or the folder) sends no tombstones until approved."""
    folder = agent_env.folder
    for i in range(20):
        (folder / f"doc{i:02}.pdf").write_bytes(f"document {i}".encode())
    reader = await agent_env.reader()
    config = agent_env.write_config(rescan_interval_s=0.5, mass_delete_threshold=0.3)
    with structlog.testing.capture_logs() as logs:
        await agent_env.start(config)
        await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
        (folder / "doc00.pdf").unlink()
        await agent_env.eventually(lambda: len(reader.of(Tombstone)) == 1)
        for i in range(1, 11):
            (folder / f"doc{i:02}.pdf").unlink()
        await agent_env.eventually(
            lambda: any(
                e["event"] == "problem_reported" and e["kind"] == "deletions_paused" for e in logs
            )
        )
        await asyncio.sleep(1.2)  # two more rescans: still nothing deleted at the hub
        assert len(reader.of(Tombstone)) == 1

        allowed = await asyncio.to_thread(
            agent_cli, ["allow-deletions", "--config", str(config), "--folder", str(folder)]
        )
        assert allowed == 0
        await agent_env.eventually(lambda: len(reader.of(Tombstone)) == 11)
        assert reader.matches(agent_env.disk_files(folder))

        shutil.rmtree(folder)
        await agent_env.eventually(
            lambda: any(
                e["event"] == "problem_reported" and e["kind"] == "folder_unavailable" for e in logs
            )
        )
        await asyncio.sleep(1.2)
    assert len(reader.of(Tombstone)) == 11


async def test_a_folder_missing_at_start_is_watched_once_it_appears(agent_env, monkeypatch):
    """A share mounted after the agent started is found, and later changes in it arrive by events."""
    monkeypatch.setattr(agent.watcher, "_UNAVAILABLE_RECHECK_S", 0.5)
    folder = agent_env.folder
    shutil.rmtree(folder)
    reader = await agent_env.reader()
    # Full rescans only hourly: what arrives after the folder is found came by events.
    with structlog.testing.capture_logs() as logs:
        await agent_env.start(agent_env.write_config(quiet_window_s=0.2, rescan_interval_s=3600.0))
        await agent_env.eventually(
            lambda: any(
                e["event"] == "problem_reported" and e["kind"] == "folder_unavailable" for e in logs
            )
        )
    folder.mkdir()
    (folder / "first.pdf").write_bytes(b"on the share when it was mounted")
    await agent_env.eventually(lambda: "first.pdf" in reader.current())
    (folder / "later.pdf").write_bytes(b"scanned after the share was mounted")
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))


async def test_a_folder_replaced_under_the_agent_is_watched_anew(agent_env, monkeypatch):
    """After the folder is removed and created again (a share remounted), new files still arrive."""
    monkeypatch.setattr(agent.watcher, "_UNAVAILABLE_RECHECK_S", 0.5)
    folder = agent_env.folder
    (folder / "before.pdf").write_bytes(b"before the remount")
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(quiet_window_s=0.2, rescan_interval_s=3600.0))
    await agent_env.eventually(lambda: "before.pdf" in reader.current())
    shutil.rmtree(folder)
    await asyncio.sleep(1.0)  # the agent sees the folder gone
    folder.mkdir()
    (folder / "before.pdf").write_bytes(b"before the remount")
    await asyncio.sleep(1.0)  # ... and back, with a new watch
    (folder / "after.pdf").write_bytes(b"after the remount")
    await agent_env.eventually(lambda: "after.pdf" in reader.current())
    assert reader.matches(agent_env.disk_files(folder))
    assert not reader.of(Tombstone)


async def test_several_folders_send_paths_under_their_names(agent_env):
    """With several folders, each path starts with its folder's name."""
    second = agent_env.base / "skeny"
    second.mkdir()
    (agent_env.folder / "a.txt").write_bytes(b"from spisovna")
    (second / "a.txt").write_bytes(b"from skeny")
    reader = await agent_env.reader()
    config = agent_env.write_config(
        folders=[
            {"path": str(agent_env.folder), "name": "spisovna"},
            {"path": str(second), "name": "skeny"},
        ]
    )
    await agent_env.start(config)
    expected = {"spisovna/a.txt": b"from spisovna", "skeny/a.txt": b"from skeny"}
    await agent_env.eventually(lambda: reader.matches(expected))
