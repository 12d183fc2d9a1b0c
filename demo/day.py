"""A working day in three town halls, compressed into about a minute.

Each step does what a clerk or a scanner would: files appear in the folders,
documents are registered, drafts change, stray files go, spisy are closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from demo.obce import DemoObec, Registry, fake_scan

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date
    from pathlib import Path

__all__ = ["DayLog", "Office", "act_out_the_day"]

_SUBJECTS = ("Žádost o stavební povolení", "Žádost o kácení dřevin", "Stížnost na hluk")
_UTVAR = "Stavební úřad"
_POZICE = "referent/ka stavebního úřadu"
_PODATELNA = "podatelna"


def _spis_archival(office: Office, today: date, skartace: tuple[str, int]) -> dict[str, object]:
    """What the obec's eSSL knows of a spis besides its core: clerk, plan, režim, storage."""
    return {
        "zpracovatel_utvar": _UTVAR,
        "zpracovatel_pozice": _POZICE,
        "spisovy_plan_identifikator": f"SSP-{office.obec.ico}-{today:%Y}",
        "spisovy_plan_nazev": f"Spisový a skartační plán, {office.obec.name}",
        "spisovy_plan_platnost_od": f"{today:%Y}-01-01",
        "vecna_skupina_nazev": "Stavební řízení",
        "skartacni_rezim_identifikator": f"{skartace[0]}/{skartace[1]}",
        "skartacni_rezim_nazev": f"Stavební řízení, {skartace[0]} {skartace[1]}",
        "spousteci_udalost": "uzavření spisu",
        "ukladaci_jednotka": f"Spisovna OÚ, karton {today:%Y}/{skartace[0]}",
    }


@dataclass
class DayLog:
    """What the day produced, for the summary."""

    closed_spisy: dict[str, list[str]] = field(default_factory=dict)
    files_written: dict[str, int] = field(default_factory=dict)


@dataclass
class Office:
    """One town hall's folder and registry, with a way to narrate what happens there."""

    obec: DemoObec
    folder: Path
    registry: Registry
    say: Callable[[str], None]

    def write(self, relative: str, data: bytes) -> str:
        """Write a file the way a scanner or an editor does: create, fill, close."""
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"~${path.name}")
        tmp.write_bytes(b"lock")  # an Office lock file the agent must ignore
        path.write_bytes(data)
        tmp.unlink()
        return relative


async def _morning_scans(
    office: Office, today: date, number: int, *, late_attachment: bool
) -> tuple[str, Callable[[], None]]:
    """The podatelna scans incoming post and registers it in a new spis.

    Returns the spis id and what finishes the scanning: with `late_attachment`
    the attachment is registered now but its scan reaches the folder only later,
    so the hub must wait for it before it can build the spis's package.
    """
    o = office.obec
    subject = _SUBJECTS[number % len(_SUBJECTS)]
    stem = f"Podatelna/{today:%Y-%m-%d} {subject}"
    main_doc = office.write(f"{stem}.pdf", fake_scan(f"{o.ico}{subject}", 3))
    attachment = f"{stem} - příloha.pdf"

    def scan_attachment() -> None:
        office.write(attachment, fake_scan(f"{o.ico}{subject}p", 1))

    if not late_attachment:
        scan_attachment()
    files = [main_doc, attachment]
    scanned = (
        "an attachment (its scan is still on the scanner)" if late_attachment else "an attachment"
    )
    office.say(f"podatelna scanned '{subject}' with {scanned}")
    skartace = ("A", 10) if number % 2 == 0 else ("S", 5)
    spis = office.registry.open_spis(
        znacka=f"OÚ/{number + 100}/{today:%Y}",
        nazev=subject,
        znak="2.4.3",
        skartace=skartace,
        opened=today,
        clerk=o.clerk,
        archival=_spis_archival(office, today, skartace),
    )
    # A paper letter: the scans are its digitalizát, the paper goes to a storage unit.
    dokument = office.registry.add_dokument(
        spis,
        cj=f"OÚ/{number + 100}/{today:%Y}-1",
        nazev=subject,
        puvod="doruceny",
        datum=today,
        kdo="Jan Občan",
        poradi=1,
        archival={
            "analogovy": 1,
            "mnozstvi": "1 list, 1 příloha",
            "ukladaci_jednotka": f"Spisovna OÚ, karton {today:%Y}/{skartace[0]}",
        },
    )
    office.registry.add_subjekt(
        dokument,
        role="odesilatel",
        typ="fyzicka_osoba",
        nazev="Jan Občan",
        postovni_adresa=f"Náves 1, {o.name}",
        email="jan.obcan@example.cz",
    )
    office.registry.log_event("dokument", dokument, "DokumentZalozeni", _PODATELNA)
    for poradi, soubor in enumerate(files, start=1):
        office.registry.add_komponenta(dokument, soubor=soubor, poradi=poradi, forma="digitalizát")
    office.say(f"registered spis OÚ/{number + 100}/{today:%Y} with dokument and 2 komponenty")
    await asyncio.sleep(0)
    return spis, (lambda: None) if not late_attachment else scan_attachment


async def _clerk_answers(office: Office, spis: str, today: date, number: int) -> str:
    """The clerk drafts an answer, edits it twice, and files the final PDF."""
    draft = f"Odbor výstavby/Rozhodnutí {number + 100}.docx"
    office.write(draft, b"PK\x03\x04 draft 1 " + office.obec.name.encode())
    office.say(f"clerk {office.obec.clerk} started a draft: {draft}")
    await asyncio.sleep(1.5)
    office.write(draft, b"PK\x03\x04 draft 2, corrected " + office.obec.name.encode())
    office.say("clerk corrected the draft (a new version of the same file)")
    final = office.write(
        f"Odbor výstavby/Rozhodnutí {number + 100}.pdf", fake_scan(f"{draft}final", 2)
    )
    dokument = office.registry.add_dokument(
        spis,
        cj=f"OÚ/{number + 100}/{today:%Y}-2",
        nazev="Rozhodnutí",
        puvod="vlastni",
        datum=today,
        kdo=office.obec.clerk,
        poradi=2,
        archival={
            "zpracovatel": office.obec.clerk,
            "zpracovatel_utvar": _UTVAR,
            "zpracovatel_pozice": _POZICE,
            "analogovy": 0,
        },
    )
    office.registry.log_event("dokument", dokument, "DokumentZalozeni", office.obec.clerk)
    # The signed PDF is the originál (a PDF needs no separate output-format copy).
    office.registry.add_komponenta(dokument, soubor=final, poradi=1)
    office.say("clerk filed the signed decision as PDF and registered it")
    return final


async def act_out_the_day(offices: list[Office], today: date, log: DayLog) -> None:
    """Run the day in every office at once; close one spis per office at the end."""

    async def one_office(office: Office, number: int) -> None:
        late = number == 1
        spis, finish_scanning = await _morning_scans(office, today, number, late_attachment=late)
        await asyncio.sleep(1)
        await _clerk_answers(office, spis, today, number)
        stray = office.write("Podatelna/omylem naskenováno.pdf", fake_scan(f"{number}stray", 1))
        await asyncio.sleep(1.5)
        (office.folder / stray).unlink()
        office.say("a page scanned by mistake was deleted (the hub keeps it as a tombstone)")
        await asyncio.sleep(1)
        office.registry.close_spis(spis, today, office.obec.clerk)
        office.say(f"spis OÚ/{number + 100}/{today:%Y} closed: it goes to the regional archive")
        log.closed_spisy.setdefault(office.obec.ico, []).append(spis)
        if late:
            await asyncio.sleep(3)
            finish_scanning()
            office.say("the attachment's scan finally reached the folder")
        log.files_written[office.obec.ico] = sum(1 for p in office.folder.rglob("*") if p.is_file())

    async with asyncio.TaskGroup() as group:
        for number, office in enumerate(offices):
            group.create_task(one_office(office, number))
