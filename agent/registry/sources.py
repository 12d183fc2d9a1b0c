"""Which adapter reads the registry: chosen by `[registry] kind`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.registry.db import open_database, parse_db_url
from agent.registry.spisovka import SpisovkaSource
from agent.registry.sql import SqlSource
from agent.registry.sqlite import RegistryReader

if TYPE_CHECKING:
    from agent.config import AgentConfig, RegistryConfig
    from agent.registry.source import RegistrySource

__all__ = ["open_source", "spis_defaults"]


def open_source(config: AgentConfig) -> RegistrySource:
    """Return the registry source that `config` describes (no connection is made yet).

    Raises:
        ConfigError: The password file cannot be read.
    """
    registry = config.registry
    assert registry is not None  # the caller checked there is a [registry]
    if registry.kind == "sqlite":
        return RegistryReader(Path(registry.path))
    assert registry.url is not None  # RegistryConfig requires it for these kinds
    database = open_database(
        parse_db_url(registry.url), registry.password(), query_timeout_s=registry.query_timeout_s
    )
    folder = config.files_folder()
    prefix = "" if folder is None else config.folder_prefix(folder)
    if registry.kind == "spisovka":
        return SpisovkaSource(
            database,
            table_prefix=registry.table_prefix,
            folder_prefix=prefix,
            files_root=None if folder is None else folder.path,
        )
    assert registry.queries is not None  # RegistryConfig requires it for kind = "sql"
    return SqlSource(database, registry.queries, folder_prefix=prefix)


def spis_defaults(registry: RegistryConfig) -> dict[str, Any]:
    """Contract fields a spis gets from AGENT.toml when the registry leaves them empty."""
    plan = registry.spisovy_plan
    if plan is None:
        return {}
    return {
        "spisovy_plan_identifikator": plan.identifikator,
        "spisovy_plan_nazev": plan.nazev,
        "spisovy_plan_platnost_od": plan.platnost_od,
        "spisovy_plan_platnost_do": plan.platnost_do,
    }
