"""On the wire, text goes deflated and random bytes as they are; `compression = "off"` sends nothing deflated."""

from __future__ import annotations

import os

_TEXT = "Usnesení rady obce č. {i}: rada souhlasí s uzavřením smlouvy.\n"


def _text(lines: int) -> bytes:
    return "".join(_TEXT.format(i=i) for i in range(lines)).encode()


def _tree(folder) -> dict[str, bytes]:
    files = {
        "usneseni.txt": _text(2000),  # some 130 KiB: many 1 KiB chunks in these tests
        "kratke.txt": _text(10),  # one chunk: goes in a bundle
        "sken.pdf": os.urandom(5000),  # incompressible, several chunks
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


async def test_text_goes_deflated_and_random_bytes_as_they_are(agent_env):
    """Every file lands byte for byte; only the compressible ones travelled deflated."""
    _tree(agent_env.folder)
    reader = await agent_env.reader()
    await agent_env.start()
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(agent_env.folder)))
    assert "chunk" in reader.deflated  # the text file's chunks
    assert "file_bundle" in reader.deflated  # the short text's bundle
    # Every chunk of the text file (1 KiB chunks here), none of the random one's.
    assert reader.deflated.count("chunk") == -(-len(_text(2000)) // 1024)
    assert not reader.violations


async def test_compression_off_sends_everything_as_it_is(agent_env):
    """With `compression = "off"` no message is deflated, and everything still lands."""
    _tree(agent_env.folder)
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(compression="off"))
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(agent_env.folder)))
    assert reader.deflated == []
    assert not reader.violations
