"""The placeholders a stored SIP holds, read from the package itself.

A SIP built by spisync lists in its ``metsHdr`` (notes of the ORGANIZATION
agent, `protocol.archive.PLACEHOLDER_NOTE`) each value that stands in for a
field the obec's registry lacked. The receipt (`SipAccepted.placeholders`)
reports what the stored package says, not what the sender claims. Only the
header at the start of ``mets.xml`` is read.
"""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING

from lxml import etree

from protocol import Placeholder
from protocol.archive import PLACEHOLDER_NOTE

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["package_placeholders"]

_METS = "http://www.loc.gov/METS/"
_METS_FILE = "mets.xml"


def package_placeholders(path: Path) -> tuple[Placeholder, ...]:
    """Return the placeholders listed in the header of the SIP at `path` (a validated ZIP).

    Args:
        path: The stored package.

    Returns:
        Each placeholder's field and value, in the package's order; empty when
        the package lists none (or is not spisync's).
    """
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(_METS_FILE)]
        if len(names) != 1:
            return ()
        with archive.open(names[0]) as mets:
            events = etree.iterparse(
                mets,
                events=("end",),
                tag=f"{{{_METS}}}metsHdr",
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
            )
            for _, header in events:
                notes = header.findall(f"{{{_METS}}}agent/{{{_METS}}}note")
                found = []
                for note in notes:
                    text = note.text or ""
                    if text.startswith(PLACEHOLDER_NOTE):
                        field, _, value = text.removeprefix(PLACEHOLDER_NOTE).partition(" = ")
                        found.append(Placeholder(field=field, value=value))
                return tuple(found)
    return ()
