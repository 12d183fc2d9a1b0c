"""Benchmark 8: validating a 2 GB SIP of 5,000 komponenty: time against reading it, peak memory.

The package is written on disk by `testkit.nsesss_sip` (independent of the
hub's builder): 1,000 dokumenty of 5 komponenty, each a 400 KiB file that
starts like a PDF and is zero-filled after its header (so generating 2 GB is
quick; the validator reads and hashes every byte all the same, as ZIP_STORED
members). `spisync archive validate --profile skartacni-rizeni-komponenty`
then runs in its own process, the profile that hashes every komponenta; its
peak RSS comes from the kernel (``VmHWM`` of that process). The time to
read the package is one SHA-256 pass over the ZIP, measured right before, so
page-cache effects are alike for both (the file was just written and is
likely cached for both runs).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.env import REPO
from bench.results import BenchResult, Figure, Ratio, mb_per_s
from testkit.nsesss_sip import Component, SipSpec, write_package

if TYPE_CHECKING:
    from collections.abc import Iterator

    from testkit.broker import SharedBroker

__all__ = ["validate"]

_DOKUMENTY = 1000
_PER_DOKUMENT = 5
_SIZE = 400 * 1024
_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
_CHUNK = 1024 * 1024


def _zero_pdf(size: int) -> Iterator[bytes]:
    yield _HEADER
    left = size - len(_HEADER)
    zeros = bytes(min(_CHUNK, left))
    while left > 0:
        part = zeros[: min(left, len(zeros))]
        left -= len(part)
        yield part


def _spec(dokumenty: int, size: int) -> SipSpec:
    def component(poradi: int) -> Component:
        return Component(
            poradi,
            1,
            size,
            lambda: _zero_pdf(size),
            druh="hlavní dokument" if poradi == 1 else "příloha",
        )

    return SipSpec(
        name="SIP_bench_validate",
        dokumenty=[[component(p) for p in range(1, _PER_DOKUMENT + 1)] for _ in range(dokumenty)],
    )


def _fsync(path: Path) -> None:
    """Flush the package to disk first, as the archive has before it validates."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _read_seconds(path: Path) -> float:
    started = time.monotonic()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return time.monotonic() - started


# The CLI's own entry point, then the process's peak RSS (VmHWM, KiB) on stderr's last
# line. Not getrusage: Linux carries the forked parent's peak across exec into ru_maxrss,
# so a child of this (large) bench process would report the bench's own peak.
_CHILD = """
import re, sys
from pathlib import Path
from spisync.cli import main
code = main(["archive", "validate", "--profile", "skartacni-rizeni-komponenty", sys.argv[1]])
status = Path("/proc/self/status").read_text()
print(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1), file=sys.stderr)
sys.exit(code)
"""


async def _validate_in_process(path: Path) -> tuple[float, int, str, int]:
    """Run the CLI on `path`; return wall time, exit code, first output line, peak RSS (KiB)."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(path),
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    seconds = time.monotonic() - started
    text = out.decode(errors="replace").strip().splitlines()
    errors = err.decode(errors="replace").strip().splitlines()
    peak = int(errors[-1]) if errors and errors[-1].isdigit() else 0
    return seconds, proc.returncode or 0, text[0] if text else "", peak


async def validate(_broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Write the package, read it once, validate it in a subprocess; record time and memory."""
    dokumenty = 100 if quick else _DOKUMENTY
    size = 40 * 1024 if quick else _SIZE
    scratch = Path(tempfile.mkdtemp(prefix="spisync-bench-validate-"))
    try:
        started = time.monotonic()
        path = await asyncio.to_thread(write_package, scratch, _spec(dokumenty, size))
        await asyncio.to_thread(_fsync, path)
        written = time.monotonic() - started
        total = path.stat().st_size
        read = await asyncio.to_thread(_read_seconds, path)
        seconds, code, first_line, peak_kib = await _validate_in_process(path)
        if code != 0:
            raise RuntimeError(f"the package did not validate: {first_line}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    komponenty = dokumenty * _PER_DOKUMENT
    result.add(Figure("package size", round(total / 1e9, 3), "GB", f"{komponenty} komponenty"))
    result.add(Figure("komponenty", komponenty, "files"))
    result.add(Figure("write package", round(written, 1), "s", "not part of the validation"))
    read_figure = result.add(Figure("read package (one SHA-256 pass)", round(read, 2), "s"))
    ours = result.add(Figure("validate (spisync archive validate)", round(seconds, 2), "s"))
    result.add(mb_per_s("validate throughput", total, seconds))
    rss = result.add(Figure("validator peak RSS", round(peak_kib / 1024, 1), "MiB"))
    result.aims[rss.name] = ("<", 200.0 / 1.048576)  # 200 MB
    result.ratios.append(Ratio("validate time / read time", ours, read_figure))
    result.notes.append(
        "Komponenty are zero-filled after a PDF header (ZIP_STORED); every byte is still read "
        "and hashed. Peak RSS is the validator process's own (VmHWM), including "
        "Python, lxml and the compiled schemas."
    )
