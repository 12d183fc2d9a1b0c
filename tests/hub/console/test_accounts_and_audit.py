"""Operator accounts (`spisync hub operator ...`) and the audit log (`hub.audit`, `spisync hub audit`)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from hub import audit
from hub.console.accounts import (
    AccountError,
    add_operator,
    allows,
    authenticate_token,
    issue_token,
    verify_password,
)
from hub.store import SqliteMetadataStore
from protocol import utc_now
from spisync.cli import main


@pytest.fixture
def hub_toml(tmp_path: Path) -> Path:
    """A HUB.toml whose data folder is in the test's tmp dir (no broker needed for these commands)."""
    path = tmp_path / "HUB.toml"
    path.write_text(
        f'[hub]\norp = "t"\ndata_dir = "{tmp_path / "hub"}"\n'
        '[broker]\nurl = "amqp://u:p@127.0.0.1:1/"\n',
        encoding="utf-8",
    )
    return path


async def test_audit_record_is_listed_newest_first_and_by_obec(tmp_path):
    """`audit.record` stores who, what, which obec and the result; `entries` lists newest first, filtered by obec."""
    store = await SqliteMetadataStore.open(tmp_path)
    try:
        first = await audit.record(store, "jana", "login", None, "", audit.RESULT_OK)
        second = await audit.record(
            store, "helpdesk:petr", "diag_status", "00231401", "request 1", audit.RESULT_OK
        )
        newest = await audit.entries(store)
        assert [e.id for e in newest] == [second, first]
        only = await audit.entries(store, ico="00231401")
        assert [(e.actor, e.action, e.ico, e.detail, e.result) for e in only] == [
            ("helpdesk:petr", "diag_status", "00231401", "request 1", "ok")
        ]
        assert abs(only[0].at - utc_now()) < timedelta(minutes=1)
        assert [e.id for e in await audit.entries(store, before_id=second)] == [first]
    finally:
        await store.close()


async def test_passwords_are_argon2_hashes_and_tokens_authenticate(tmp_path):
    """A password is stored only as an argon2 hash and verifies; a new token replaces the old one."""
    store = await SqliteMetadataStore.open(tmp_path)
    try:
        assert await add_operator(store, "jana", "operator", "correct horse battery")
        row = await store.operators.operator("jana")
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert "correct horse" not in row.password_hash
        assert await verify_password(row, "correct horse battery")
        assert not await verify_password(row, "wrong password!")
        assert not await verify_password(None, "correct horse battery")
        old = await issue_token(store, "jana")
        new = await issue_token(store, "jana")
        assert await authenticate_token(store, old) is None
        found = await authenticate_token(store, new)
        assert found is not None
        assert found.name == "jana"
        with pytest.raises(AccountError, match="at least"):
            await add_operator(store, "petr", "viewer", "short")
        with pytest.raises(AccountError, match="not valid"):
            await add_operator(store, "bad name", "viewer", "long enough password")
    finally:
        await store.close()


def test_roles_are_ordered():
    """An admin may do what an operator may, an operator what a viewer may, never the reverse."""
    assert allows("admin", "operator")
    assert allows("operator", "viewer")
    assert not allows("viewer", "operator")
    assert not allows("operator", "admin")


def test_operator_commands_add_list_token_remove_and_are_audited(hub_toml, tmp_path, capsys):
    """`spisync hub operator add|list|token|remove` manage accounts, and `spisync hub audit --json` shows each change."""
    password = tmp_path / "pw"
    password.write_text("velmi tajné heslo\n", encoding="utf-8")
    config = ["--config", str(hub_toml)]
    add = ["hub", "operator", "add", *config, "--name", "jana", "--role", "admin"]
    assert main([*add, "--password-file", str(password)]) == 0
    assert "created as admin" in capsys.readouterr().out
    assert main(["hub", "operator", "list", *config]) == 0
    assert "jana" in capsys.readouterr().out
    assert main(["hub", "operator", "token", *config, "--name", "jana"]) == 0
    assert capsys.readouterr().out.startswith("sst_")
    assert main(["hub", "operator", "remove", *config, "--name", "jana"]) == 0
    capsys.readouterr()
    assert main(["hub", "operator", "remove", *config, "--name", "jana"]) == 2
    assert "no operator named 'jana'" in capsys.readouterr().err
    assert main(["hub", "audit", *config, "--json"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in log] == ["operator_remove", "operator_token", "operator_add"]
    assert all(e["result"] == "ok" and e["actor"].startswith("cli") for e in log)


def test_operator_add_with_unreadable_password_file_names_it(hub_toml, tmp_path, capsys):
    """A missing password file is one clear line naming the file, exit 2."""
    missing = tmp_path / "nope"
    code = main(
        [
            *("hub", "operator", "add", "--config", str(hub_toml), "--name", "jana"),
            *("--role", "viewer", "--password-file", str(missing)),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert len(err.strip().splitlines()) == 1
