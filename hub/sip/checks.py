"""Pre-flight checks: refuse metadata the archive's validator would reject.

Finding a problem here, with the registry ids in the message, is far cheaper
than a rejected package coming back from the region days later.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from hub.sip.errors import InvalidSpisError
from protocol.ico import is_valid_ico

if TYPE_CHECKING:
    from hub.sip.model import Dokument, Komponenta, Obec, Spis

__all__ = ["FORMY_UCHOVANI", "check_spis"]

FORMY_UCHOVANI = frozenset(
    {
        "koncept",
        "originál",
        "originál ve výstupním datovém formátu",
        "digitalizát",
        "kontejner",
    }
)
"""The values of ``forma_uchovani`` NSESSS allows."""

_ID_MAX = 50
_ZNAK_MAX = 255
_LHUTA_MAX = 999
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_ZNAK = re.compile(r"[^.\s]+(?:\.[^.\s]+)*")


def _text(problems: list[str], where: str, value: str, *, limit: int | None = None) -> None:
    if not value.strip():
        problems.append(f"{where} is empty")
    elif limit is not None and len(value) > limit:
        problems.append(f"{where} {value!r} is longer than {limit} characters")


def _check_komponenta(problems: list[str], at: str, komponenta: Komponenta) -> None:
    _text(problems, f"{at} id", komponenta.id, limit=_ID_MAX)
    _text(problems, f"{at} druh", komponenta.druh, limit=_ID_MAX)
    _text(problems, f"{at} file_name", komponenta.file_name)
    _text(problems, f"{at} mime_type", komponenta.mime_type)
    if komponenta.forma_uchovani not in FORMY_UCHOVANI:
        problems.append(f"{at} forma_uchovani {komponenta.forma_uchovani!r} is not allowed")
    if not _SHA256.fullmatch(komponenta.sha256):
        problems.append(f"{at} sha256 {komponenta.sha256!r} is not 64 hex digits")
    if komponenta.size < 0:
        problems.append(f"{at} size {komponenta.size} is negative")
    if komponenta.verze < 1:
        problems.append(f"{at} verze {komponenta.verze} is below 1")


def _check_komponenty(problems: list[str], dokument: Dokument) -> None:
    where = f"dokument {dokument.id}"
    druhy: dict[int, set[str]] = defaultdict(set)
    verze: dict[int, list[int]] = defaultdict(list)
    for komponenta in dokument.komponenty:
        _check_komponenta(problems, f"{where} komponenta {komponenta.id}", komponenta)
        druhy[komponenta.poradi].add(komponenta.druh)
        verze[komponenta.poradi].append(komponenta.verze)
    if druhy and sorted(druhy) != list(range(1, len(druhy) + 1)):
        problems.append(f"{where} komponenty poradi {sorted(druhy)} are not 1..{len(druhy)}")
    for poradi, kinds in sorted(druhy.items()):
        if len(kinds) > 1:
            problems.append(f"{where} komponenty at poradi {poradi} differ in druh {sorted(kinds)}")
    for poradi, versions in sorted(verze.items()):
        if len(set(versions)) != len(versions):
            problems.append(f"{where} komponenty at poradi {poradi} repeat a verze {versions}")


def _check_dokumenty(problems: list[str], spis: Spis) -> None:
    if not spis.dokumenty:
        problems.append(f"spis {spis.id} has no dokument")
    seen: set[int] = set()
    for dokument in spis.dokumenty:
        where = f"dokument {dokument.id}"
        _text(problems, f"{where} id", dokument.id, limit=_ID_MAX)
        _text(problems, f"{where} cislo_jednaci", dokument.cislo_jednaci, limit=_ID_MAX)
        _text(problems, f"{where} nazev", dokument.nazev)
        _text(problems, f"{where} odesilatel_autor", dokument.odesilatel_autor)
        if dokument.puvod not in {"doruceny", "vlastni"}:
            problems.append(f"{where} puvod {dokument.puvod!r} is not doruceny/vlastni")
        if dokument.poradi < 1 or dokument.poradi in seen:
            problems.append(f"{where} poradi {dokument.poradi} is below 1 or repeated")
        seen.add(dokument.poradi)
        _check_komponenty(problems, dokument)


def check_spis(spis: Spis, obec: Obec) -> None:
    """Raise if the metadata cannot form a package the archive accepts.

    Args:
        spis: The closed spis.
        obec: Its obec.

    Raises:
        InvalidSpisError: Listing every problem found, by registry id.
    """
    problems: list[str] = []
    if not is_valid_ico(obec.ico):
        problems.append(f"obec IČO {obec.ico!r} is not a valid IČO")
    _text(problems, "obec name", obec.name)
    where = f"spis {spis.id}"
    _text(problems, f"{where} id", spis.id, limit=_ID_MAX)
    _text(problems, f"{where} nazev", spis.nazev)
    _text(problems, f"{where} spisova_znacka", spis.spisova_znacka, limit=_ID_MAX)
    _text(problems, f"{where} zpracovatel", spis.zpracovatel)
    if len(spis.spisovy_znak) > _ZNAK_MAX or not _ZNAK.fullmatch(spis.spisovy_znak):
        problems.append(f"{where} spisovy_znak {spis.spisovy_znak!r} is not like 2.4.3.3")
    elif any(len(part) > _ID_MAX for part in spis.spisovy_znak.split(".")):
        problems.append(f"{where} spisovy_znak {spis.spisovy_znak!r} has a part over 50 chars")
    if spis.skartacni_znak not in {"A", "S", "V"}:
        problems.append(f"{where} skartacni_znak {spis.skartacni_znak!r} is not A, S or V")
    if not 0 <= spis.skartacni_lhuta <= _LHUTA_MAX:
        problems.append(f"{where} skartacni_lhuta {spis.skartacni_lhuta} is not 0-999")
    if spis.datum_otevreni > spis.datum_uzavreni:
        problems.append(
            f"{where} datum_otevreni {spis.datum_otevreni} is after "
            f"datum_uzavreni {spis.datum_uzavreni}"
        )
    _check_dokumenty(problems, spis)
    if problems:
        raise InvalidSpisError("; ".join(problems))
