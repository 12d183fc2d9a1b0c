"""The national rule set (NSESSS 2024, validátor ZAF of the Národní archiv), read from its adoc.

``rules-NSESSS2024.adoc`` ships beside this module exactly as the Národní
archiv publishes it (a test keeps it equal to ``shared/nsesss``). It is parsed
here, at first use, so the codes, the rule texts, the error messages and the
profiles each rule is active in come from that one file and cannot drift from
it.

Profiles: the three national ones apply exactly the rules the adoc marks
active for them. ``spisovna`` (the transfer at closing into the kraj's
storage) applies every national rule except those in `SPISOVNA_EXCLUDED`,
which depend on an expired retention period, on a finished skartační řízení,
or on the later step the package is chosen for.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "NATIONAL_PROFILES",
    "PROFILES",
    "PROFILE_LABELS",
    "RULES_FILE",
    "SPISOVNA",
    "SPISOVNA_EXCLUDED",
    "NationalRule",
    "national_rules",
    "parse_rules",
    "profile_codes",
]

RULES_FILE = Path(__file__).resolve().parent / "rules-NSESSS2024.adoc"

SPISOVNA = "spisovna"
PROFILE_LABELS = {
    "skartacni-rizeni": "skartační řízení (jen metadata)",
    "skartacni-rizeni-komponenty": "skartační řízení (s komponentami)",
    "prejimka": "přejímka",
}
"""spisync's profile names and the adoc's wording of the national profile each one is."""
NATIONAL_PROFILES = tuple(PROFILE_LABELS)
PROFILES = (SPISOVNA, *NATIONAL_PROFILES)

SPISOVNA_EXCLUDED = {
    "obs3": (
        "přejímka only: at closing it is not yet decided whether the package goes to skartační "
        "řízení or to přejímka, so either LABEL of obs2 is accepted"
    ),
    "obs64": "needs an expired retention period (rok skartační operace ≤ the current year)",
    "obs65": "needs an expired retention period (rok skartační operace ≤ the current year)",
    "obs77": "needs a finished skartační řízení (Mnozstvi inside SkartacniRizeni)",
    "obs78": "needs a finished skartační řízení (the SkartacniRizeni element)",
    "obs79": "needs a finished skartační řízení (its date against the rok skartační operace)",
    "obs80": "needs a finished skartační řízení (its date)",
}
"""National rules that `spisovna` leaves out, with why."""

_FIELD = re.compile(r"^(Pravidlo|Kód|Zdroj|Popis chyby|Aktivní):: ?(.*)$")


@dataclass(frozen=True, slots=True)
class NationalRule:
    """One rule of the national rule set, as the adoc states it.

    Attributes:
        code: The rule's code (``obs54``, ``kom2``, ...).
        area: The area of control it is listed under (``kontrola obsahu``, ...).
        text: The rule (Pravidlo), in Czech.
        source: Its source in the law or the standard (Zdroj), as written.
        error: The error message the national validator shows (Popis chyby).
        active: The national profiles (adoc wording) the rule is active in.
    """

    code: str
    area: str
    text: str
    source: str
    error: str
    active: frozenset[str]


def _area(title: str) -> str:
    # The adoc's area headings continue "Kontrola ..." ("= datové struktury").
    return title if title.startswith("kontrola") else f"kontrola {title}"


def parse_rules(text: str) -> list[NationalRule]:
    """Parse the adoc's rules in document order.

    Args:
        text: The adoc's content.

    Returns:
        Every rule with a ``Kód::`` field.
    """
    rules: list[NationalRule] = []
    area = ""
    fields: dict[str, list[str]] = {}
    current: str | None = None

    def finish() -> None:
        if "Kód" in fields:
            joined = {key: " ".join(" ".join(v).split()) for key, v in fields.items()}
            active = frozenset(p.strip() for p in joined.get("Aktivní", "").split(",") if p.strip())
            rules.append(
                NationalRule(
                    code=joined["Kód"],
                    area=area,
                    text=joined.get("Pravidlo", ""),
                    source=joined.get("Zdroj", ""),
                    error=joined.get("Popis chyby", ""),
                    active=active,
                )
            )
        fields.clear()

    in_rules = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("[[NSESSS2024_pravidla]]"):
            in_rules = True
        if line.startswith("= ") and in_rules:
            finish()
            current = None
            area = _area(line[2:].strip())
            continue
        if line.startswith(("== ", "[[", ":leveloffset")):
            finish()
            current = None
            continue
        match = _FIELD.match(line)
        if match:
            current = match.group(1)
            fields[current] = [match.group(2)]
        elif current is not None and line and line != "[horizontal]":
            fields[current].append(line)
    finish()
    return rules


@functools.cache
def national_rules() -> tuple[NationalRule, ...]:
    """The national rules, parsed once from `RULES_FILE`."""
    return tuple(parse_rules(RULES_FILE.read_text(encoding="utf-8")))


@functools.cache
def profile_codes(profile: str) -> frozenset[str]:
    """The codes of the national rules `profile` applies.

    Raises:
        ValueError: If `profile` is not one of `PROFILES`.
    """
    if profile == SPISOVNA:
        return frozenset(r.code for r in national_rules() if r.code not in SPISOVNA_EXCLUDED)
    label = PROFILE_LABELS.get(profile)
    if label is None:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    return frozenset(r.code for r in national_rules() if label in r.active)
