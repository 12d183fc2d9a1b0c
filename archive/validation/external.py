"""Rules that need an outside tool: vir1 (malware scanner) and kom4 (PDF/A validator).

Each is a command line given by the operator, with ``{path}`` standing for the
file to check, for example ``clamdscan --no-summary --fdpass {path}`` for vir1
or ``verapdf-exit-code {path}`` for kom4 (a wrapper around veraPDF). The
command must exit 0 when the file is fine and 1 when it is not (ClamAV's
convention); any other exit, a timeout or a missing program fails
spisync-error, so a package is never accepted unchecked. Without a command the
rule is reported ``not_implemented``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archive.validation.container import CHUNK_SIZE
from archive.validation.context import SPISYNC_ERROR, Context
from archive.validation.model import M, N, local

if TYPE_CHECKING:
    from lxml import etree

    from archive.validation.container import Layout, Package
    from archive.validation.model import MetsDoc

__all__ = ["TIMEOUT_S", "ExternalTools", "run_external"]

TIMEOUT_S = 600.0
_CLEAN, _FOUND = 0, 1
_FORMS = {"originál", "originál ve výstupním datovém formátu"}
_HREF = "{http://www.w3.org/1999/xlink}href"


@dataclass(frozen=True, slots=True)
class ExternalTools:
    """The commands for the rules that need an outside tool.

    Attributes:
        vir1: Malware scanner command (``{path}`` = the SIP's ZIP or folder).
        kom4: PDF/A validator command (``{path}`` = one PDF komponenta).
    """

    vir1: str = ""
    kom4: str = ""


def _run(command: str, path: Path) -> int | str:
    """Run `command` on `path`; the exit code, or why it could not run (Czech)."""
    argv = [part.replace("{path}", str(path)) for part in command.split()]
    if not argv or shutil.which(argv[0]) is None:
        return f"program {argv[0] if argv else ''!r} nenalezen"
    try:
        done = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        return f"nedoběhl do {TIMEOUT_S:.0f} s"
    except OSError as exc:
        return str(exc)
    return done.returncode


def _verdict(code: str, outcome: int | str, subject: str, location: str, ctx: Context) -> bool:
    if outcome == _FOUND:
        ctx.fail(code, subject, location)
    elif outcome != _CLEAN:
        ctx.fail(SPISYNC_ERROR, f"kontrola {code} selhala: {outcome}", location)
        return False
    return True


def _verze(komponenta: etree._Element) -> int:
    value = (komponenta.get("verze") or "").strip()
    return int(value) if value.isdigit() else 0


def _pdf_komponenty(doc: MetsDoc) -> list[tuple[str, str]]:
    """(href, file ID) of each PDF that kom4 asks about."""
    found = []
    for dokument in (e for e in doc.entities if local(e) == "Dokument"):
        holder = dokument.find(f"{N}Komponenty")
        if holder is None or doc.analog(dokument) != "ne":
            continue
        groups: dict[str, list[etree._Element]] = {}
        for komponenta in holder.findall(f"{N}Komponenta"):
            groups.setdefault(komponenta.get("poradi") or "", []).append(komponenta)
        for group in groups.values():
            highest = max(_verze(k) for k in group)
            for komponenta in group:
                if _verze(komponenta) != highest or komponenta.get("forma_uchovani") not in _FORMS:
                    continue
                for file in doc.files_by_dmdid.get(komponenta.get("ID") or "", []):
                    if (file.get("MIMETYPE") or "").startswith("application/pdf"):
                        flocat = file.find(f"{M}FLocat")
                        href = "" if flocat is None else flocat.get(_HREF, "")
                        found.append((href, file.get("ID") or ""))
    return found


def run_external(
    path: Path,
    tools: ExternalTools,
    *,
    doc: MetsDoc | None,
    package: Package | None,
    layout: Layout | None,
    ctx: Context,
) -> None:
    """Run vir1 and kom4 where a command is configured and the profile applies them."""
    scan = tools.vir1 and ctx.applies("vir1")
    if scan and _verdict("vir1", _run(tools.vir1, path), "nalezena hrozba", path.name, ctx):
        ctx.ran.add("vir1")
    if not (tools.kom4 and ctx.applies("kom4") and doc and package and layout and layout.folder):
        return
    ok = True
    with tempfile.TemporaryDirectory(prefix="spisync-kom4-") as scratch:
        for href, file_id in _pdf_komponenty(doc):
            member = f"{layout.folder}/{href}"
            entry = package.entry(member)
            if entry is None:
                continue  # obs52 and kom1 report the missing file.
            copy = Path(scratch) / "komponenta.pdf"
            with package.open(member, entry.size) as source, copy.open("wb") as sink:
                while chunk := source.read(CHUNK_SIZE):
                    sink.write(chunk)
            where = f"mets.xml mets:file[@ID='{file_id}']"
            ok &= _verdict("kom4", _run(tools.kom4, copy), f"{href} není PDF/A", where, ctx)
    if ok:
        ctx.ran.add("kom4")
