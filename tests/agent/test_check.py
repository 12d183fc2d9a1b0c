"""`spisync agent check`: what is wrong, in plain words, with the fix."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from agent.check import check
from agent.cli import main as agent_cli

SCHEMA = Path(__file__).resolve().parents[2] / "packaging" / "registry" / "schema.sql"


async def test_check_passes_for_a_provisioned_agent(agent_env, capsys):
    """A provisioned agent with a readable folder and registry passes every check."""
    db = sqlite3.connect(agent_env.base / "essl.sqlite")
    db.executescript(SCHEMA.read_text())
    db.close()
    config = agent_env.write_config(registry={"path": str(agent_env.base / "essl.sqlite")})
    code = await asyncio.to_thread(agent_cli, ["check", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all checks passed" in out
    assert "broker: publish" in out
    assert "broker: inbox" in out


async def test_check_explains_each_problem_and_its_fix(agent_env):
    """Wrong password, missing folder and a registry without the contract are each explained."""
    wrong = agent_env.agent_url.replace("@", "x@", 1)
    config = agent_env.write_config(
        folders=[{"path": str(agent_env.base / "missing")}],
        registry={"path": str(agent_env.base / "nothing.sqlite")},
    )
    text = config.read_text().replace(agent_env.agent_url, wrong)
    config.write_text(text)
    findings = {f.what: f for f in await check(config)}
    assert not findings[f"folder {agent_env.base / 'missing'}"].ok
    assert "does not exist" in findings[f"folder {agent_env.base / 'missing'}"].detail
    registry = findings[f"registry {agent_env.base / 'nothing.sqlite'}"]
    assert not registry.ok
    assert "read access" in registry.fix
    login = findings["broker login"]
    assert not login.ok
    assert "provision-agent" in login.fix

    empty = agent_env.base / "empty.sqlite"
    sqlite3.connect(empty).execute("CREATE TABLE spis (id TEXT)").connection.close()
    config = agent_env.write_config(registry={"path": str(empty)})
    findings = {f.what: f for f in await check(config)}
    detail = findings[f"registry {empty}"].detail
    assert "lacks columns" in detail
    assert "'zmeny'" in detail


async def test_check_names_the_config_key_that_is_wrong(agent_env):
    """An invalid IČO in the configuration is reported with its key."""
    config = agent_env.write_config(ico="12345678")
    (finding,) = await check(config)
    assert not finding.ok
    assert "[agent" in finding.detail
    assert "check digit" in finding.detail
