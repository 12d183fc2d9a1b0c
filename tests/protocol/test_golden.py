"""Golden samples of every released protocol version stay decodable forever."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from protocol import decode, decode_chunk_meta, kind_of
from tests.protocol.strategies import MESSAGE_TYPES

GOLDEN = Path(__file__).parent / "golden"
SAMPLES = sorted(p for p in GOLDEN.glob("v*/*.json") if not p.name.endswith(".headers.json"))


def _kind(message_type: type[msgspec.Struct]) -> str:
    info = msgspec.inspect.type_info(message_type)
    assert isinstance(info, msgspec.inspect.StructType)
    return str(info.tag)


def test_every_v1_kind_has_a_golden_sample() -> None:
    """Each message kind of the union has a frozen v1 sample, so v1 decoding stays tested."""
    kinds = {_kind(t) for t in MESSAGE_TYPES}
    sampled = {
        p.stem for p in (GOLDEN / "v1").glob("*.json") if not p.name.endswith(".headers.json")
    }
    assert kinds <= sampled


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_sample_decodes_as_its_kind(sample: Path) -> None:
    """A golden sample decodes into the message kind its file is named after.

    A kind may have several samples of one version (`heartbeat.json`,
    `heartbeat.overview.json`): later additive fields get their own sample.
    """
    message = decode(sample.read_bytes())
    assert kind_of(message) == sample.name.split(".")[0]
    assert message.message_id == "5f0c6b1e2d3a4b5c8d9e0f1a2b3c4d5e"


@pytest.mark.parametrize(
    "sample",
    sorted(GOLDEN.glob("v*/chunk*.headers.json")),
    ids=lambda p: f"{p.parent.name}/{p.name.removesuffix('.headers.json')}",
)
def test_golden_chunk_headers_decode(sample: Path) -> None:
    """Chunk headers written by every released version still decode."""
    meta = decode_chunk_meta(msgspec.json.decode(sample.read_bytes()))
    assert meta.index == 1
