"""Content rules of the Národní archiv's validator beyond the schemas."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING

from archive.validation import codes
from archive.validation.report import RuleFailure
from archive.validation.schemas import NSESSS_NS, TRP_NS
from archive.validation.xmldoc import local_name, where
from protocol.ico import is_valid_ico

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["check_nsesss"]

_N = f"{{{NSESSS_NS}}}"
_T = f"{{{TRP_NS}}}"
_IC = "IČ"


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def _check_komponenty(dokument: etree._Element, failures: list[RuleFailure]) -> None:
    druhy: dict[int, set[str]] = defaultdict(set)
    verze: dict[int, list[int]] = defaultdict(list)
    holder = dokument.find(f"{_N}Komponenty")
    komponenty = [] if holder is None else holder.findall(f"{_N}Komponenta")
    for komponenta in komponenty:
        poradi = _int(komponenta.get("poradi"))
        version = _int(komponenta.get("verze"))
        if poradi is None:
            continue  # Not an integer: the schema rules report it.
        druhy[poradi].add(komponenta.get("druh") or "")
        if version is not None:
            verze[poradi].append(version)
    if druhy and sorted(druhy) != list(range(1, len(druhy) + 1)):
        message = f"pořadí komponent {sorted(druhy)} netvoří řadu 1..{len(druhy)}"
        failures.append(RuleFailure(codes.KOMP_PORADI, message, where(dokument)))
    for poradi, kinds in sorted(druhy.items()):
        if len(kinds) > 1:
            message = f"komponenty s pořadím {poradi} mají různý druh: {sorted(kinds)}"
            failures.append(RuleFailure(codes.KOMP_DRUH, message, where(dokument)))
    for poradi, versions in sorted(verze.items()):
        if any(later <= earlier for earlier, later in itertools.pairwise(versions)):
            message = f"verze komponent s pořadím {poradi} nerostou: {versions}"
            failures.append(RuleFailure(codes.KOMP_VERZE, message, where(dokument)))


def _check_ico(tree: etree._ElementTree, failures: list[RuleFailure]) -> None:
    for element in tree.iter(f"{_N}*"):
        if (element.get("zdroj") or "").strip() == _IC:
            value = (element.text or "").strip()
            if not is_valid_ico(value):
                message = f"{value!r} není platné IČO (kontrolní číslice)"
                failures.append(RuleFailure(codes.ICO_CHECK, message, where(element)))
    for identifikator in tree.iter(f"{_T}Identifikator"):
        zdroj = identifikator.findtext(f"{_T}ZdrojID") or ""
        value = (identifikator.findtext(f"{_T}HodnotaID") or "").strip()
        if zdroj.strip() == _IC and not is_valid_ico(value):
            message = f"{value!r} není platné IČO (kontrolní číslice)"
            failures.append(RuleFailure(codes.ICO_CHECK, message, where(identifikator)))


def _date(element: etree._Element | None) -> date | None:
    # xs:date may carry a time zone ("2024-03-01+01:00"); the day is what counts.
    text = (element.text or "").strip()[:10] if element is not None else ""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _check_dates(tree: etree._ElementTree, failures: list[RuleFailure]) -> None:
    for otevreni in tree.iter(f"{_N}DatumOtevreni"):
        parent = otevreni.getparent()
        if parent is None:
            continue
        opened = _date(otevreni)
        closed = _date(parent.find(f"{_N}DatumUzavreni"))
        if opened is not None and closed is not None and opened > closed:
            message = f"DatumOtevreni {opened} je po DatumUzavreni {closed}"
            failures.append(RuleFailure(codes.DATE_ORDER, message, where(parent)))


def _check_empty(tree: etree._ElementTree, failures: list[RuleFailure]) -> None:
    for element in tree.iter(f"{_N}*"):
        name = local_name(element)
        if name.startswith("Nazev") and not (element.text or "").strip():
            failures.append(RuleFailure(codes.EMPTY_NAZEV, f"prázdný {name}", where(element)))
        elif name.startswith("Identifikator"):
            zdroj = element.get("zdroj")
            if not (element.text or "").strip():
                message = f"prázdný {name}"
                failures.append(RuleFailure(codes.EMPTY_IDENTIFIKATOR, message, where(element)))
            elif zdroj is not None and not zdroj.strip():
                message = f"prázdný zdroj {name}"
                failures.append(RuleFailure(codes.EMPTY_IDENTIFIKATOR, message, where(element)))


def check_nsesss(tree: etree._ElementTree, failures: list[RuleFailure]) -> None:
    """Record KOMP-*, ICO-CHECK, DATE-ORDER and EMPTY-* failures of `tree`."""
    for dokument in tree.iter(f"{_N}Dokument"):
        _check_komponenty(dokument, failures)
    _check_ico(tree, failures)
    _check_dates(tree, failures)
    _check_empty(tree, failures)
