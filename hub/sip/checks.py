"""Pre-flight checks: metadata the national rules would reject, found before building.

A problem here is not a gap a placeholder could fill: the registry says
something the rules forbid (a spisový znak V on a spis closed after 2026, two
originals at one pořadí, an "output format" komponenta that is a Word file).
Each problem names the registry record and field, so the clerk can fix the
record; the spis waits until the registry changes. Finding it here is far
cheaper than a rejected package coming back from the region days later.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING

from protocol.ico import is_valid_ico
from spisync.formats import CONTAINER_FORMATS, OUTPUT_FORMATS, WORD_PROCESSING, ZIP_FORMATS

if TYPE_CHECKING:
    from hub.sip.model import Dokument, Komponenta, Obec, Spis

__all__ = [
    "FORMY_UCHOVANI",
    "ORIGINAL",
    "OVDF",
    "ZPUSOBY_VYRIZENI",
    "format_notices",
    "is_analog",
    "spis_problems",
]

ORIGINAL = "originál"
OVDF = "originál ve výstupním datovém formátu"
FORMY_UCHOVANI = frozenset({"koncept", ORIGINAL, OVDF, "digitalizát", "kontejner"})
"""The values of ``forma_uchovani`` NSESSS allows."""
ZPUSOBY_VYRIZENI = frozenset(
    {
        "vyřízení dokumentem",
        "postoupení",
        "vzetí na vědomí",
        "vyřízení záznamem na dokumentu",
        "jiný způsob",
    }
)
"""NSESSS ``tZpusobVyrizeni``."""

_ID_MAX = 50
_ZNAK_MAX = 255
_LHUTA_MAX = 999
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_ZNAK = re.compile(r"[^.\s]+(?:\.[^.\s]+)*")
_V_ABOLISHED_AFTER = date(2026, 12, 31)
"""Rule obs66: skartační znak V only for entities settled/closed until this day."""
_FORMATS_FROM = date(2012, 7, 31)
"""Rules obs105 and obs107 apply to entities settled/closed after this day."""
_ALLOWED = ", ".join(OUTPUT_FORMATS)


def _text(problems: list[str], where: str, value: str, *, limit: int | None = None) -> None:
    if not value.strip():
        problems.append(f"{where} je prázdné")
    elif limit is not None and len(value) > limit:
        problems.append(f"{where} {value!r} je delší než {limit} znaků")


def _check_komponenta(
    problems: list[str], at: str, komponenta: Komponenta, *, content: bool
) -> None:
    _text(problems, f"{at}: id", komponenta.id, limit=_ID_MAX)
    _text(problems, f"{at}: druh", komponenta.druh, limit=_ID_MAX)
    _text(problems, f"{at}: soubor", komponenta.file_name)
    if komponenta.forma_uchovani not in FORMY_UCHOVANI:
        problems.append(f"{at}: forma_uchovani {komponenta.forma_uchovani!r} není povolená")
    if not _SHA256.fullmatch(komponenta.sha256):
        problems.append(f"{at}: sha256 {komponenta.sha256!r} není 64 šestnáctkových číslic")
    if komponenta.size < 0:
        problems.append(f"{at}: size {komponenta.size} je záporná")
    if komponenta.verze < 1:
        problems.append(f"{at}: verze {komponenta.verze} je menší než 1")
    if not content:
        return
    if komponenta.mime_type in ZIP_FORMATS and komponenta.forma_uchovani != "kontejner":
        problems.append(
            f"{at}: forma_uchovani je {komponenta.forma_uchovani!r}, ale obsah je "
            f"{komponenta.mime_type}, tedy kontejner (obs109)"
        )
    if komponenta.forma_uchovani == "kontejner" and komponenta.mime_type not in CONTAINER_FORMATS:
        problems.append(
            f"{at}: forma_uchovani je 'kontejner', ale obsah "
            f"{komponenta.mime_type} není formát kontejneru (obs110)"
        )


def _groups(dokument: Dokument) -> dict[int, list[Komponenta]]:
    groups: dict[int, list[Komponenta]] = defaultdict(list)
    for komponenta in dokument.komponenty:
        groups[komponenta.poradi].append(komponenta)
    return {poradi: sorted(group, key=lambda k: k.verze) for poradi, group in groups.items()}


def _check_originals(
    problems: list[str], where: str, poradi: int, group: list[Komponenta], *, formats: bool
) -> None:
    """Rules obs103, obs104, obs106, obs105 and obs107 for one pořadí of a digital dokument."""
    at = f"{where}: komponenty s pořadím {poradi}"
    originals = [k for k in group if k.forma_uchovani == ORIGINAL]
    outputs = [k for k in group if k.forma_uchovani == OVDF]
    highest = group[-1].verze
    if len(originals) != 1:
        ids = ", ".join(k.id for k in originals) or "none"
        problems.append(
            f"{at}: forma_uchovani 'originál' musí mít právě jedna komponenta, "
            f"mají ji {len(originals)} ({ids}) (obs103)"
        )
    elif not outputs and originals[0].verze != highest:
        problems.append(
            f"{at}: originál {originals[0].id} musí mít nejvyšší verzi {highest} (obs104)"
        )
    if outputs and (len(outputs) != 1 or outputs[0].verze != highest):
        problems.append(
            f"{at}: nejvyšší verzi {highest} musí mít právě jedna komponenta "
            "'originál ve výstupním datovém formátu' (obs106)"
        )
    if not formats:
        return
    newest = outputs[-1] if outputs else None
    if newest is not None and newest.mime_type not in OUTPUT_FORMATS:
        problems.append(
            f"komponenta {newest.id}: forma_uchovani je 'originál ve výstupním datovém "
            f"formátu', ale obsah je {newest.mime_type}; povolené výstupní formáty: "
            f"{_ALLOWED} (obs107)"
        )
    if not outputs and any(k.mime_type in WORD_PROCESSING for k in originals):
        problems.append(
            f"{at}: originál je {originals[0].mime_type}, k němu chybí komponenta "
            f"'originál ve výstupním datovém formátu' ({_ALLOWED}) (obs105)"
        )


def _check_komponenty(
    problems: list[str], dokument: Dokument, *, analog: bool, formats: bool, content: bool
) -> None:
    where = f"dokument {dokument.id}"
    for komponenta in dokument.komponenty:
        _check_komponenta(problems, f"komponenta {komponenta.id}", komponenta, content=content)
    groups = _groups(dokument)
    if groups and sorted(groups) != list(range(1, len(groups) + 1)):
        problems.append(
            f"{where}: pořadí komponent {sorted(groups)} nejsou 1..{len(groups)} (obs100)"
        )
    for poradi, group in sorted(groups.items()):
        kinds = sorted({k.druh for k in group})
        if len(kinds) > 1:
            problems.append(
                f"{where}: komponenty s pořadím {poradi} mají různý druh {kinds} (obs101)"
            )
        versions = [k.verze for k in group]
        if len(set(versions)) != len(versions):
            problems.append(
                f"{where}: komponenty s pořadím {poradi} opakují verzi {versions} (obs102)"
            )
        elif not analog:
            _check_originals(problems, where, poradi, group, formats=formats)
    formy = {k.forma_uchovani for k in dokument.komponenty}
    if formy == {"kontejner"}:
        problems.append(
            f"{where}: komponenty jsou jen kontejner, chybí komponenty z kontejneru (obs111)"
        )
    scans = [k.id for k in dokument.komponenty if k.forma_uchovani == "digitalizát"]
    if scans and not analog:
        problems.append(
            f"{where}: analogovy je 'ne', ale komponenty {', '.join(scans)} jsou "
            "digitalizát listinného dokumentu (obs98a)"
        )
    if not analog and not dokument.komponenty:
        problems.append(f"{where}: analogovy je 'ne', ale dokument nemá žádnou komponentu (obs60)")


def is_analog(dokument: Dokument) -> bool:
    """Whether the dokument is on paper: the registry's word, else what its files say.

    A dokument without files, or with a scan (digitalizát), is on paper.
    """
    if dokument.analogovy is not None:
        return dokument.analogovy
    return not dokument.komponenty or any(
        k.forma_uchovani == "digitalizát" for k in dokument.komponenty
    )


def _check_dokumenty(problems: list[str], spis: Spis, *, content: bool) -> None:
    if not spis.dokumenty:
        problems.append(f"spis {spis.id}: nemá žádný dokument")
    seen: set[int] = set()
    formats = content and spis.datum_uzavreni > _FORMATS_FROM
    for dokument in spis.dokumenty:
        where = f"dokument {dokument.id}"
        _text(problems, f"{where}: id", dokument.id, limit=_ID_MAX)
        _text(problems, f"{where}: cislo_jednaci", dokument.cislo_jednaci, limit=_ID_MAX)
        if dokument.puvod not in {"doruceny", "vlastni"}:
            problems.append(f"{where}: puvod {dokument.puvod!r} není doruceny ani vlastni")
        if dokument.poradi < 1 or dokument.poradi in seen:
            problems.append(f"{where}: poradi {dokument.poradi} je menší než 1 nebo se opakuje")
        seen.add(dokument.poradi)
        if (
            dokument.vyrizeni_zpusob is not None
            and dokument.vyrizeni_zpusob not in ZPUSOBY_VYRIZENI
        ):
            problems.append(
                f"{where}: vyrizeni_zpusob {dokument.vyrizeni_zpusob!r} není jeden z: "
                f"{', '.join(sorted(ZPUSOBY_VYRIZENI))}"
            )
        _check_komponenty(
            problems, dokument, analog=is_analog(dokument), formats=formats, content=content
        )


def spis_problems(spis: Spis, obec: Obec, *, content: bool = True) -> list[str]:
    """Return every problem of the spis the national rules would reject, field named.

    Args:
        spis: The closed spis.
        obec: Its obec.
        content: Whether the MIME types are known (read from the content); if
            not, the rules about formats are left for the build.

    Returns:
        One line per problem, each starting with the record and field, e.g.
        ``"komponenta K-3: forma_uchovani …"``; empty when there is none.
    """
    problems: list[str] = []
    if not is_valid_ico(obec.ico):
        problems.append(f"obec: IČO {obec.ico!r} není platné IČO")
    _text(problems, "obec: name", obec.name)
    where = f"spis {spis.id}"
    _text(problems, f"{where}: id", spis.id, limit=_ID_MAX)
    _text(problems, f"{where}: spisova_znacka", spis.spisova_znacka, limit=_ID_MAX)
    if len(spis.spisovy_znak) > _ZNAK_MAX or not _ZNAK.fullmatch(spis.spisovy_znak):
        problems.append(f"{where}: spisovy_znak {spis.spisovy_znak!r} nemá tvar 2.4.3.3")
    elif any(len(part) > _ID_MAX for part in spis.spisovy_znak.split(".")):
        problems.append(f"{where}: spisovy_znak {spis.spisovy_znak!r} má část delší než 50 znaků")
    if spis.skartacni_znak not in {"A", "S", "V"}:
        problems.append(f"{where}: skartacni_znak {spis.skartacni_znak!r} není A, S ani V")
    elif spis.skartacni_znak == "V" and spis.datum_uzavreni > _V_ABOLISHED_AFTER:
        problems.append(
            f"{where}: skartacni_znak 'V' nelze použít u spisu uzavřeného po "
            f"{_V_ABOLISHED_AFTER:%d. %m. %Y} (obs66)"
        )
    if not 0 <= spis.skartacni_lhuta <= _LHUTA_MAX:
        problems.append(f"{where}: skartacni_lhuta {spis.skartacni_lhuta} není 0 až 999")
    if spis.datum_otevreni > spis.datum_uzavreni:
        problems.append(
            f"{where}: datum_otevreni {spis.datum_otevreni} je po "
            f"datum_uzavreni {spis.datum_uzavreni} (obs71)"
        )
    if spis.vyrizeni_zpusob is not None and spis.vyrizeni_zpusob not in ZPUSOBY_VYRIZENI:
        problems.append(
            f"{where}: vyrizeni_zpusob {spis.vyrizeni_zpusob!r} není jeden z: "
            f"{', '.join(sorted(ZPUSOBY_VYRIZENI))}"
        )
    _check_dokumenty(problems, spis, content=content)
    return problems


def format_notices(spis: Spis) -> list[str]:
    """Return the pořadí of digital dokumenty whose archival copy is not in an output format.

    Not a rule failure (an originál may be in any format when no output
    format is claimed for it), but the spisovna should know at closing which
    komponenty will need converting: one line each, with the allowed formats.
    """
    notices: list[str] = []
    for dokument in spis.dokumenty:
        if is_analog(dokument):
            continue
        for _poradi, group in sorted(_groups(dokument).items()):
            kept = group[-1]
            if kept.mime_type not in OUTPUT_FORMATS:
                notices.append(
                    f"komponenta {kept.id}: {kept.mime_type} není výstupní datový formát; "
                    f"povolené: {_ALLOWED}"
                )
            elif kept.mime_type == "application/pdf" and kept.pdfa is False:
                notices.append(
                    f"komponenta {kept.id}: PDF neuvádí shodu s PDF/A (kom4 vyžaduje PDF/A)"
                )
    return notices
