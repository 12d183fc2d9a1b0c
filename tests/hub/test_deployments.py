"""Several deployments on one broker: agent user names carry the deployment (against a real broker)."""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING

import aiormq
import pytest

from hub.config import HubConfig, HubSection
from hub.provision import ProvisionError, provision_agent, revoke_agent
from protocol import names
from spisync.broker import open_connection
from spisync.config import BrokerConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from testkit.broker import SharedBroker


@pytest.fixture
async def second_vhost(shared_broker: SharedBroker) -> AsyncIterator[str]:
    """Another deployment's vhost on the same broker."""
    name = await shared_broker.create_vhost()
    yield name
    await shared_broker.drop_vhost(name)


def config(
    shared_broker: SharedBroker, vhost: str, data_dir: Path, orp: str, **hub: str
) -> HubConfig:
    return HubConfig(
        hub=HubSection(orp=orp, data_dir=str(data_dir), **hub),
        broker=BrokerConfig(
            url=shared_broker.url(vhost), management_url=shared_broker.management_url
        ),
    )


def url_of(path: Path) -> str:
    return str(tomllib.loads(path.read_text())["broker"]["url"])


async def can_log_in(url: str) -> bool:
    try:
        connection = await open_connection(url, name="spisync tests")
    except aiormq.exceptions.ProbableAuthenticationError:
        return False
    await connection.close()
    return True


def test_user_names_carry_the_deployment() -> None:
    """The default prefix is `<orp>.`; `user_prefix` overrides it; an empty one keeps 0.1's names."""
    hub = HubSection(orp="klatovy", data_dir="d")
    assert hub.agent_username("00255319") == "klatovy.obec-00255319"
    assert HubSection(orp="k", data_dir="d", user_prefix="stg-").agent_username("1") == "stg-obec-1"
    assert HubSection(orp="k", data_dir="d", user_prefix="").agent_username("1") == "obec-1"
    assert names.ico_from_agent_username("klatovy.obec-00255319", prefix="klatovy.") == "00255319"
    assert names.ico_from_agent_username("hlucin.obec-00255319", prefix="klatovy.") is None


async def test_two_deployments_provision_the_same_obec_apart(
    shared_broker: SharedBroker, vhost: str, second_vhost: str, tmp_path: Path, ico: str
) -> None:
    """The same IČO in two ORPs gets two users; rotating and revoking one leaves the other working."""
    alpha = config(shared_broker, vhost, tmp_path / "a", "alpha")
    beta = config(shared_broker, second_vhost, tmp_path / "b", "beta")
    a_out, b_out = tmp_path / "a.toml", tmp_path / "b.toml"
    a_result = await provision_agent(alpha, ico=ico, name="Obec", out=a_out)
    b_result = await provision_agent(beta, ico=ico, name="Obec", out=b_out)
    assert (a_result.username, b_result.username) == (f"alpha.obec-{ico}", f"beta.obec-{ico}")
    b_url = url_of(b_out)
    await provision_agent(alpha, ico=ico, name="Obec", out=a_out, rotate_password=True)
    assert await can_log_in(b_url)
    revoked = await revoke_agent(alpha, ico=ico)
    assert revoked.username == f"alpha.obec-{ico}"
    assert not await can_log_in(url_of(a_out))
    assert await can_log_in(b_url)


async def test_a_user_of_another_deployment_is_never_touched(
    shared_broker: SharedBroker, vhost: str, second_vhost: str, tmp_path: Path, ico: str
) -> None:
    """With the same user_prefix on two vhosts, rotating or revoking the other's user is refused."""
    ours = config(shared_broker, vhost, tmp_path / "a", "alpha", user_prefix="shared.")
    theirs = config(shared_broker, second_vhost, tmp_path / "b", "beta", user_prefix="shared.")
    await provision_agent(theirs, ico=ico, name="Obec", out=tmp_path / "b.toml")
    with pytest.raises(ProvisionError, match="another deployment"):
        await provision_agent(
            ours, ico=ico, name="Obec", out=tmp_path / "a.toml", rotate_password=True
        )
    with pytest.raises(ProvisionError, match="user_prefix"):
        await revoke_agent(ours, ico=ico)
    assert await can_log_in(url_of(tmp_path / "b.toml"))


async def test_reprovisioning_migrates_an_old_agent_config(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """An AGENT.toml of 0.1 (`obec-<ičo>`) re-provisioned names the new user and keeps its password."""
    legacy = config(shared_broker, vhost, tmp_path / "hub", "alpha", user_prefix="")
    out = tmp_path / "AGENT.toml"
    await provision_agent(legacy, ico=ico, name="Obec", out=out)
    old_url = url_of(out)
    assert f"//obec-{ico}:" in old_url
    migrated = config(shared_broker, vhost, tmp_path / "hub", "alpha")
    result = await provision_agent(migrated, ico=ico, name="Obec", out=out)
    new_url = url_of(out)
    assert result.username == f"alpha.obec-{ico}"
    assert f"//alpha.obec-{ico}:" in new_url
    assert new_url.split(":")[2].split("@")[0] == old_url.split(":")[2].split("@")[0]
    assert await can_log_in(new_url)
