"""packaging/install.sh into a scratch root: the tree, enabling after check, upgrade, rollback, uninstall."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from hub.config import HubConfig, HubSection
from hub.provision import provision_agent
from spisync.config import BrokerConfig

if TYPE_CHECKING:
    from testkit.broker import SharedBroker

SOURCE = Path(__file__).resolve().parents[2]
VERSION = metadata.version("spisync")
WANTS = "etc/systemd/system/multi-user.target.wants/spisync-agent.service"


def install(source: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The base interpreter, not this venv's: the installer makes its own venv.
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin") or sys.executable
    return subprocess.run(
        [
            str(source / "packaging/install.sh"),
            "agent",
            "--root",
            str(root),
            "--python",
            python,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def spisync_version(root: Path) -> str:
    script = root / "opt/spisync/current/bin/spisync"
    return subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=True
    ).stdout


def copy_with_version(tmp_path: Path, version: str) -> Path:
    """A copy of the source tree whose pyproject says `version` (a real newer release)."""
    target = tmp_path / f"spisync-{version}"
    shutil.copytree(
        SOURCE,
        target,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build"),
    )
    pyproject = target / "pyproject.toml"
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text())
    pyproject.write_text(text)
    return target


def test_install_lays_out_the_tree_and_enables_only_after_check(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """User, versioned venv and link, 0600 config, state, unit; enabled only once `check` passes."""
    root = tmp_path / "root"
    root.mkdir()
    first = install(SOURCE, root)
    assert first.returncode == 0, first.stderr
    assert "NOT enabled" in first.stderr  # the template cannot pass the check
    assert not (root / WANTS).exists()
    assert "spisync-agent:" in (root / "etc/passwd").read_text()
    assert (root / "usr/lib/sysusers.d/spisync-agent.conf").is_file()
    assert (root / "opt/spisync/current").readlink().name == VERSION
    assert spisync_version(root).strip() == f"spisync {VERSION}"
    config = root / "etc/spisync/AGENT.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "var/lib/spisync-agent").stat().st_mode) == 0o700
    unit = root / "etc/systemd/system/spisync-agent.service"
    assert unit.read_text() == (SOURCE / "packaging/systemd/spisync-agent.service").read_text()
    assert (root / f"opt/spisync/{VERSION}/share/doc/spisync/CHANGELOG.md").is_file()

    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    verify = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "spisync-agent.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")

    hub = HubConfig(
        hub=HubSection(orp="test", data_dir=str(tmp_path / "hub")),
        broker=BrokerConfig(
            url=shared_broker.url(vhost), management_url=shared_broker.management_url
        ),
    )
    provisioned = tmp_path / "provisioned.toml"
    asyncio.run(provision_agent(hub, ico=ico, name="Obec Instalační", out=provisioned))
    folder = tmp_path / "dokumenty"
    folder.mkdir()
    text = provisioned.read_text().replace(
        'state_dir = "/var/lib/spisync-agent"', f'state_dir = "{tmp_path / "state"}"'
    )
    config.write_text(text + f'\n[[folders]]\npath = "{folder}"\n')
    again = install(SOURCE, root)
    assert again.returncode == 0, again.stderr
    assert "enabled spisync-agent.service" in again.stderr
    assert (root / WANTS).is_symlink()


def test_upgrade_side_by_side_rollback_and_uninstall_keeps_data(tmp_path: Path) -> None:
    """An upgrade keeps the old venv and backs up state; rollback restores both; uninstall keeps data."""
    root = tmp_path / "root"
    root.mkdir()
    assert install(SOURCE, root).returncode == 0
    state = root / "var/lib/spisync-agent/state.sqlite"
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('schema_version', 'before')")
    db.close()

    newer = copy_with_version(tmp_path, "99.0.0")
    upgrade = install(newer, root)
    assert upgrade.returncode == 0, upgrade.stderr
    assert (root / "opt/spisync/current").readlink().name == "99.0.0"
    assert (root / "opt/spisync/previous").readlink().name == VERSION
    assert (root / f"opt/spisync/{VERSION}/bin/spisync").exists()
    assert spisync_version(root).strip() == "spisync 99.0.0"
    backup = root / f"var/lib/spisync-agent/pre-upgrade-{VERSION}/state.sqlite"
    assert backup.is_file()
    with sqlite3.connect(state) as db:  # what a migration of the new version would do
        db.execute("UPDATE meta SET value = 'migrated'")
    db.close()

    rollback = install(newer, root, "--rollback")
    assert rollback.returncode == 0, rollback.stderr
    assert (root / "opt/spisync/current").readlink().name == VERSION
    assert spisync_version(root).strip() == f"spisync {VERSION}"
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT value FROM meta").fetchone() == ("before",)
    db.close()

    removed = install(SOURCE, root, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not (root / "opt/spisync").exists()
    assert not (SOURCE / "build").exists(), "the installer must not build inside the source"
    assert not (root / "etc/systemd/system/spisync-agent.service").exists()
    assert (root / "etc/spisync/AGENT.toml").is_file()
    assert state.is_file()
