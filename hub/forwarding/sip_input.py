"""The closed spis as `hub.sip` sees it, from what the hub holds (`SpisDetail`).

Maps the registry snapshots (protocol, the registry contract) to the SIP
model field by field, with the registry's events as the hub keeps them
(`registry_events`) and each content's MIME type read from its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.sip import Dokument, Komponenta, Spis, Subjekt, Udalost
from hub.sip.formats import detect_mime, is_pdfa

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from hub.store.models import DokumentDetail, KomponentaContent, SpisDetail
    from protocol import DokumentSnapshot
    from protocol import Udalost as RegistryUdalost

__all__ = ["ContentFacts", "Events", "content_facts", "registry_udalosti", "sip_spis"]


@dataclass(frozen=True, slots=True)
class ContentFacts:
    """What the bytes of one content say about themselves.

    Attributes:
        mime_type: The MIME type detected from the content.
        pdfa: For a PDF, whether it declares PDF/A conformance.
    """

    mime_type: str
    pdfa: bool | None = None


Events = dict[tuple[str, str], tuple[Udalost, ...]]
"""Registry events by (table, record id)."""


def registry_udalosti(events: tuple[RegistryUdalost, ...]) -> tuple[Udalost, ...]:
    """The registry's events as the SIP model holds them."""
    return tuple(Udalost(kdy=u.kdy, typ=u.typ, kdo=u.kdo, popis=u.popis) for u in events)


def _file_time(content: KomponentaContent) -> datetime:
    """When the file came to be: the registry's time, else its mtime at the obec, else arrival."""
    file = content.file
    assert file is not None
    if content.snapshot.vytvoreno is not None:
        return content.snapshot.vytvoreno
    if file.mtime_ns is not None:
        return datetime.fromtimestamp(file.mtime_ns / 1e9, tz=UTC).replace(microsecond=0)
    return file.recorded_at


def _komponenta(
    content: KomponentaContent, facts: Mapping[str, ContentFacts], events: Events
) -> Komponenta:
    snapshot, file = content.snapshot, content.file
    assert file is not None
    assert file.sha256 is not None
    assert file.size is not None
    found = facts.get(file.sha256, ContentFacts("application/octet-stream"))
    return Komponenta(
        id=snapshot.komponenta_id,
        poradi=snapshot.poradi,
        verze=snapshot.verze,
        druh=snapshot.druh,
        forma_uchovani=snapshot.forma_uchovani,
        file_name=snapshot.nazev_souboru or snapshot.soubor.rsplit("/", 1)[-1],
        mime_type=found.mime_type,
        size=file.size,
        sha256=file.sha256,
        created=_file_time(content),
        udalosti=events.get(("komponenta", snapshot.komponenta_id), ()),
        pdfa=found.pdfa,
    )


def _subjekty(snapshot: DokumentSnapshot) -> tuple[Subjekt, ...]:
    return tuple(
        Subjekt(
            role=s.role,
            typ=s.typ,
            nazev=s.nazev,
            osoba=s.osoba,
            ico=s.ico,
            postovni_adresa=s.postovni_adresa,
            datova_schranka=s.datova_schranka,
            email=s.email,
            cislo_jednaci=s.cislo_jednaci,
            datum_odeslani=s.datum_odeslani,
        )
        for s in snapshot.subjekty
    )


def _dokument(
    detail: DokumentDetail, facts: Mapping[str, ContentFacts], events: Events
) -> Dokument:
    d = detail.snapshot
    return Dokument(
        id=d.dokument_id,
        cislo_jednaci=d.cislo_jednaci,
        nazev=d.nazev,
        puvod=d.puvod,
        datum=d.datum,
        odesilatel_autor=d.odesilatel_autor,
        poradi=d.poradi,
        komponenty=tuple(_komponenta(k, facts, events) for k in detail.komponenty),
        zpracovatel=d.zpracovatel,
        zpracovatel_utvar=d.zpracovatel_utvar,
        zpracovatel_pozice=d.zpracovatel_pozice,
        subjekty=_subjekty(d),
        odesilatel_cislo_jednaci=d.odesilatel_cislo_jednaci,
        datum_odeslani=d.datum_odeslani,
        vyrizeni_zpusob=d.vyrizeni_zpusob,
        vyrizeni_datum=d.vyrizeni_datum,
        vyrizeni_obsah=d.vyrizeni_obsah,
        vyrizeni_oduvodneni=d.vyrizeni_oduvodneni,
        analogovy=d.analogovy,
        mnozstvi=d.mnozstvi,
        odeslane_mnozstvi=d.odeslane_mnozstvi,
        ukladaci_jednotka=d.ukladaci_jednotka,
        udalosti=events.get(("dokument", d.dokument_id), ()),
    )


def sip_spis(
    detail: SpisDetail,
    facts: Mapping[str, ContentFacts] | None = None,
    events: Events | None = None,
) -> Spis:
    """Return the SIP model of a complete spis (every komponenta has its file).

    Args:
        detail: What the hub holds of the spis.
        facts: What each content's bytes say (MIME type) by SHA-256; a content
            not listed is ``application/octet-stream``.
        events: The registry's events by (table, record id); by default the
            ones in the snapshots.
    """
    snapshot = detail.snapshot
    closed_at = detail.state.closed_at or detail.state.complete_at
    assert closed_at is not None
    if events is None:
        events = {("spis", snapshot.spis_id): registry_udalosti(snapshot.udalosti)}
        for d in detail.dokumenty:
            events[("dokument", d.snapshot.dokument_id)] = registry_udalosti(d.snapshot.udalosti)
            for k in d.komponenty:
                events[("komponenta", k.snapshot.komponenta_id)] = registry_udalosti(
                    k.snapshot.udalosti
                )
    return Spis(
        id=snapshot.spis_id,
        spisova_znacka=snapshot.spisova_znacka,
        nazev=snapshot.nazev,
        spisovy_znak=snapshot.spisovy_znak,
        skartacni_znak=snapshot.skartacni_znak,
        skartacni_lhuta=snapshot.skartacni_lhuta,
        datum_otevreni=snapshot.datum_otevreni,
        datum_uzavreni=snapshot.datum_uzavreni or closed_at.date(),
        zpracovatel=snapshot.zpracovatel,
        dokumenty=tuple(_dokument(d, facts or {}, events) for d in detail.dokumenty),
        udalosti=events.get(("spis", snapshot.spis_id), ()),
        closed_at=closed_at,
        zpracovatel_utvar=snapshot.zpracovatel_utvar,
        zpracovatel_pozice=snapshot.zpracovatel_pozice,
        vyrizeni_zpusob=snapshot.vyrizeni_zpusob,
        vyrizeni_datum=snapshot.vyrizeni_datum,
        vyrizeni_obsah=snapshot.vyrizeni_obsah,
        vyrizeni_oduvodneni=snapshot.vyrizeni_oduvodneni,
        spisovy_plan_identifikator=snapshot.spisovy_plan_identifikator,
        spisovy_plan_nazev=snapshot.spisovy_plan_nazev,
        spisovy_plan_platnost_od=snapshot.spisovy_plan_platnost_od,
        spisovy_plan_platnost_do=snapshot.spisovy_plan_platnost_do,
        vecna_skupina_nazev=snapshot.vecna_skupina_nazev,
        skartacni_rezim_identifikator=snapshot.skartacni_rezim_identifikator,
        skartacni_rezim_nazev=snapshot.skartacni_rezim_nazev,
        spousteci_udalost=snapshot.spousteci_udalost,
        spousteci_udalost_datum=snapshot.spousteci_udalost_datum,
        # The registry's storage unit of the spis is where its paper part is kept.
        umisteni=snapshot.ukladaci_jednotka,
    )


def content_facts(path: Path) -> ContentFacts:
    """Read the MIME type (and PDF/A declaration) of one content file."""
    mime = detect_mime(path)
    return ContentFacts(mime, is_pdfa(path) if mime == "application/pdf" else None)
