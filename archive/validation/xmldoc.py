"""Reading ``mets.xml`` safely: bounded, streamed, no DTD, no entities (kod1, wf1, ns1).

mets.xml is parsed straight from the package's stream, never held as bytes,
and reading stops at `MAX_METS_SIZE`. The parser loads no DTD, resolves no
entity and never touches the network; any DOCTYPE at all fails
``spisync-doctype`` and nothing else is then read from the document.
"""

from __future__ import annotations

import codecs
import zipfile
from typing import TYPE_CHECKING

from lxml import etree

from archive.validation.container import METS_FILE, BoundedReader, MemberTooLargeError
from archive.validation.context import SPISYNC_DOCTYPE, SPISYNC_ZIP, Context
from archive.validation.schemas import METS_NS

if TYPE_CHECKING:
    from archive.validation.container import Package

__all__ = ["CODES", "MAX_METS_ELEMENTS", "MAX_METS_SIZE", "load_mets"]

MAX_METS_SIZE = 64 * 1024 * 1024
"""mets.xml of a spis with 5,000 komponenty is ~15 MB; a bigger one is refused (spisync-zip)."""
MAX_METS_ELEMENTS = 1_000_000
"""A tree costs memory per element, not per byte: a dense one is refused before it is built.

A spis with 5,000 komponenty has some 300,000 elements."""
CODES = frozenset({"kod1", "wf1", "ns1", SPISYNC_DOCTYPE, SPISYNC_ZIP})
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class _Utf8Checked:
    """Passes bytes through to the parser, noting a BOM and the first invalid UTF-8."""

    def __init__(self, reader: BoundedReader) -> None:
        self._reader = reader
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0
        self.bom = False
        self.bad_at: int | None = None

    def read(self, size: int = -1) -> bytes:
        data = self._reader.read(size)
        if self._offset == 0 and data.startswith(_BOMS):
            self.bom = True
        if self.bad_at is None:
            try:
                self._decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                self.bad_at = self._offset + max(exc.start, 0)
        self._offset += len(data)
        return data


class _TooManyElementsError(Exception):
    """mets.xml has more elements than `MAX_METS_ELEMENTS`."""


def _parse(stream: _Utf8Checked) -> etree._ElementTree:
    """Build the tree, counting elements as they come and stopping at the limit."""
    parser = etree.iterparse(
        stream,
        events=("start",),
        no_network=True,
        resolve_entities=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=True,  # Indentation would double the nodes and the memory.
    )
    for count, _ in enumerate(parser, start=1):
        if count > MAX_METS_ELEMENTS:
            raise _TooManyElementsError
    tree: etree._ElementTree = parser.root.getroottree()
    return tree


def _read_tree(package: Package, path: str, ctx: Context) -> etree._ElementTree | None:
    """Read and parse, reporting kod1, wf1 and spisync-zip; None when there is no tree."""
    tree: etree._ElementTree | None = None
    checked: _Utf8Checked | None = None
    detail = ""
    try:
        with package.open(path, MAX_METS_SIZE) as reader:
            checked = _Utf8Checked(reader)
            tree = _parse(checked)
    except _TooManyElementsError:
        detail = f"{METS_FILE} má více než {MAX_METS_ELEMENTS} elementů; čtení zastaveno"
    except MemberTooLargeError:
        detail = f"{METS_FILE} je větší než {MAX_METS_SIZE} B; čtení zastaveno"
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        detail = f"{METS_FILE} nejde přečíst: {exc}"
    except etree.XMLSyntaxError as exc:
        if checked is not None and checked.bad_at is None:
            where = f"{METS_FILE}:{exc.lineno or 0}"
            ctx.fail("wf1", f"není správně utvořené XML: {exc.msg}", where)
    if detail:
        ctx.fail(SPISYNC_ZIP, detail, path)
        return None
    if checked is not None and checked.bom:
        ctx.fail("kod1", "soubor začíná znakem BOM", METS_FILE)
    if checked is not None and checked.bad_at is not None:
        ctx.fail("kod1", f"neplatné UTF-8 na bajtu {checked.bad_at}", METS_FILE)
    return tree


def load_mets(package: Package, path: str, ctx: Context) -> etree._ElementTree | None:
    """Parse mets.xml; None when it cannot be used for the content rules.

    Args:
        package: The opened package.
        path: mets.xml's path in the package.
        ctx: Where failures go.

    Returns:
        The parsed document, or None when it is unreadable, too big, not
        well-formed, carries a DOCTYPE, or has no ``mets:mets`` root.
    """
    ctx.ran.update({"kod1", "wf1", SPISYNC_ZIP})
    tree = _read_tree(package, path, ctx)
    if tree is None:
        return None
    encoding = (tree.docinfo.encoding or "UTF-8").upper()
    if encoding not in {"UTF-8", "UTF8"}:
        ctx.fail("kod1", f"deklarované kódování {encoding}, musí být UTF-8", METS_FILE)
    ctx.ran.add(SPISYNC_DOCTYPE)
    # lxml's stubs do not know DocInfo.doctype; internalDTD is None without a DOCTYPE.
    doctype = str(getattr(tree.docinfo, "doctype", "") or "")
    internal: object = getattr(tree.docinfo, "internalDTD", None)
    if doctype or internal is not None:
        ctx.fail(SPISYNC_DOCTYPE, f"nalezeno: {doctype[:200]}", METS_FILE)
        return None
    ctx.ran.add("ns1")
    root = tree.getroot()
    if root.tag != f"{{{METS_NS}}}mets":
        ctx.fail("ns1", f"kořenový element je {root.tag!r}", f"{METS_FILE}:{root.sourceline}")
        return None
    return tree
