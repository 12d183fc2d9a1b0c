"""Hypothesis strategies for every wire message, derived from the structs' own type info."""

from __future__ import annotations

import string
from datetime import UTC
from typing import Any

import msgspec
from hypothesis import strategies as st

from protocol import codec
from protocol.paths import is_windows_reserved

__all__ = ["MESSAGE_TYPES", "messages", "safe_paths"]

MESSAGE_TYPES: tuple[type[msgspec.Struct], ...] = codec.AnyMessage.__args__  # type: ignore[attr-defined]

_NAME_CHARS = st.sampled_from(string.ascii_letters + string.digits + "áčďéěíňóřšťúůýžÁČŘŠŽ _-()")
_component = st.text(_NAME_CHARS, min_size=1, max_size=20).filter(
    lambda c: (
        c.strip() == c
        and not c.endswith(".")
        and c not in {".", ".."}
        and not is_windows_reserved(c)
    )
)
safe_paths = st.lists(_component, min_size=1, max_size=4).map("/".join)


def _for(info: msgspec.inspect.Type, name: str) -> st.SearchStrategy[Any]:
    if name in {"path", "soubor"}:
        return safe_paths
    match info:
        case msgspec.inspect.Metadata():
            return _for(info.type, name)
        case msgspec.inspect.StrType(pattern=str() as pattern):
            # msgspec patterns are searched, not matched; ours are all anchored.
            return st.from_regex(pattern.removeprefix("^").removesuffix("$"), fullmatch=True)
        case msgspec.inspect.StrType():
            low = info.min_length or 0
            return st.text(min_size=low, max_size=min(info.max_length or 30, 30))
        case msgspec.inspect.IntType():
            return st.integers(
                min_value=info.ge if info.ge is not None else -(2**40),
                max_value=info.le if info.le is not None else 2**40,
            ).filter(lambda v: info.gt is None or v > info.gt)
        case msgspec.inspect.FloatType():
            return st.floats(allow_nan=False, allow_infinity=False, width=64)
        case msgspec.inspect.BoolType():
            return st.booleans()
        case msgspec.inspect.NoneType():
            return st.none()
        case msgspec.inspect.DateTimeType():
            return st.datetimes(timezones=st.just(UTC))
        case msgspec.inspect.DateType():
            return st.dates()
        case msgspec.inspect.LiteralType():
            return st.sampled_from(info.values)
        case msgspec.inspect.UnionType():
            return st.one_of([_for(t, name) for t in info.types])
        case msgspec.inspect.VarTupleType():
            return st.lists(_for(info.item_type, name), max_size=4).map(tuple)
        case msgspec.inspect.DictType():
            return st.dictionaries(
                _for(info.key_type, name), _for(info.value_type, name), max_size=3
            )
        case msgspec.inspect.StructType():
            return _struct(info)
        case msgspec.inspect.AnyType():
            return st.none() | st.booleans() | st.integers() | st.text(max_size=10)
    raise TypeError(f"no strategy for {info!r} (field {name})")


def _struct(info: msgspec.inspect.StructType) -> st.SearchStrategy[Any]:
    fields = {f.name: _for(f.type, f.name) for f in info.fields}
    if "schema_version" in fields:
        fields["schema_version"] = st.just(1)

    def build(values: dict[str, Any]) -> Any:
        if {"size", "chunk_size", "chunk_sha256"} <= values.keys():
            # Keep chunk lists short: the size decides how many hashes there must be.
            values["size"] %= values["chunk_size"] * 8 + 1
            count = -(-values["size"] // values["chunk_size"])
            values["chunk_sha256"] = tuple(f"{i:064x}" for i in range(count))
        if {"object_sha256", "transfer"} <= values.keys() and not values["object_sha256"]:
            # A chunk names its object's hash, its transfer, or both (`ChunkMeta`).
            values["transfer"] = values["transfer"] or "0" * 32
        return info.cls(**values)

    return st.fixed_dictionaries(fields).map(build)


def messages(message_type: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    """Return a strategy producing valid instances of `message_type`."""
    info = msgspec.inspect.type_info(message_type)
    assert isinstance(info, msgspec.inspect.StructType)
    return _struct(info)
