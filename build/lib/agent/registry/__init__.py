"""The eSSL registry: adapters that read it (never write) and the sync that sends its records.

`contract` is the registry contract as rows (columns, cleaning, snapshots),
`source` the interface every adapter offers, `sqlite` the reference schema's
reader, `sync` the polling and reconciliation that turn rows into messages.
"""

from agent.registry.contract import COLUMNS, OPTIONAL_COLUMNS
from agent.registry.source import Change, ChangeBatch, RegistrySource, Snapshot
from agent.registry.sqlite import RegistryReader

__all__ = [
    "COLUMNS",
    "OPTIONAL_COLUMNS",
    "Change",
    "ChangeBatch",
    "RegistryReader",
    "RegistrySource",
    "Snapshot",
]
