"""What every rule check shares: the profile, the failures found, and where in mets.xml.

A check is a function registered on a `RuleSet` under the codes it decides.
It reports through `Context.fail`; a failure of a rule that the profile does
not apply is dropped there, so checks need not know the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from lxml import etree

from archive.validation.report import RuleFailure
from archive.validation.ruleset import national_rules, profile_codes

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

__all__ = [
    "OWN_RULES",
    "SPISYNC_DOCTYPE",
    "SPISYNC_ERROR",
    "SPISYNC_PATH",
    "SPISYNC_ZIP",
    "Context",
    "OwnRule",
    "RuleSet",
    "where",
]

METS_FILE = "mets.xml"
_PREFIXES = {
    "http://www.loc.gov/METS/": "mets",
    "http://www.mvcr.cz/nsesss/v4": "nsesss",
    "http://www.mvcr.cz/nsesss/2023/log": "tp",
    "http://www.w3.org/1999/xlink": "xlink",
}


@dataclass(frozen=True, slots=True)
class OwnRule:
    """A rule of spisync's own, beside the national ones.

    Attributes:
        code: ``spisync-...``.
        text: The rule, in English (for RULES.md).
        error: The error shown, in Czech.
        why: Why spisync checks it although the national validator does not.
    """

    code: str
    text: str
    error: str
    why: str


SPISYNC_DOCTYPE = "spisync-doctype"
SPISYNC_ZIP = "spisync-zip"
SPISYNC_PATH = "spisync-path"
SPISYNC_ERROR = "spisync-error"

OWN_RULES = (
    OwnRule(
        SPISYNC_DOCTYPE,
        "mets.xml has no document type declaration (DOCTYPE) of any kind",
        "mets.xml obsahuje deklaraci DOCTYPE; z bezpečnostních důvodů se nepřijímá.",
        "safety: a DTD can declare entities (external, parameter, or exponential ones); NSESSS "
        "mets.xml never needs one. Entities are never resolved either way.",
    ),
    OwnRule(
        SPISYNC_ZIP,
        "every ZIP member can be read, and none grows past its declared size or past the cap "
        "for mets.xml (zip bombs are cut off there)",
        "Položku balíčku nelze bezpečně přečíst (poškozená, nebo přesahuje ohlášenou velikost).",
        "safety: reading stops at the declared size, so memory and time stay bounded",
    ),
    OwnRule(
        SPISYNC_PATH,
        "no ZIP member has an absolute path, a '..' or '.' part, a backslash or a duplicate name",
        "Položka balíčku má nebezpečnou nebo opakovanou cestu.",
        "safety: such names could escape the folder when the package is unpacked",
    ),
    OwnRule(
        SPISYNC_ERROR,
        "the validator itself did not fail",
        "Validátor selhal; balíček nelze přijmout bez ověření.",
        "a package that could not be checked is never accepted",
    ),
)
"""spisync's own rules. All are about safety; they reject, whoever made the package."""


def where(element: etree._Element) -> str:
    """Name an element for a report: ``mets.xml:<line> <XPath>``."""
    tree = element.getroottree()
    try:
        path = tree.getpath(element)
    except ValueError:
        path = etree.QName(element).localname
    if "*" in path:
        # Unprefixed namespaced steps: name them by our prefixes instead.
        steps = []
        node: etree._Element | None = element
        while node is not None:
            qname = etree.QName(node)
            steps.append(f"{_PREFIXES.get(qname.namespace or '', '')}:{qname.localname}")
            node = node.getparent()
        path = "/" + "/".join(reversed(steps))
    return f"{METS_FILE}:{element.sourceline} {path}"


@dataclass(slots=True)
class Context:
    """The state of one validation run.

    Attributes:
        profile: The profile's name.
        today: The date rules about "the current year" compare against.
        failures: Every failure reported so far (of rules the profile applies).
        ran: Codes of the rules that ran.
        not_run: Codes of rules that could not run, with why (Czech).
    """

    profile: str
    today: date
    failures: list[RuleFailure] = field(default_factory=list)
    ran: set[str] = field(default_factory=set)
    not_run: dict[str, str] = field(default_factory=dict)
    _active: frozenset[str] = frozenset()
    _errors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._active = profile_codes(self.profile) | {rule.code for rule in OWN_RULES}
        self._errors = {rule.code: rule.error for rule in national_rules()}
        self._errors.update({rule.code: rule.error for rule in OWN_RULES})

    def applies(self, code: str) -> bool:
        """Whether the profile applies the rule `code`."""
        return code in self._active

    def fail(self, code: str, detail: str, location: etree._Element | str) -> None:
        """Report a failure of rule `code`, with the rule's own error text first.

        Args:
            code: The rule's code.
            detail: What was found, in Czech.
            location: The element it is about, or a textual location.
        """
        if code not in self._active:
            return
        place = location if isinstance(location, str) else where(location)
        error = self._errors.get(code, "")
        message = f"{error} {detail}".strip() if detail else error
        self.failures.append(RuleFailure(code, message, place))

    def skip(self, codes: tuple[str, ...] | frozenset[str], why: str) -> None:
        """Record that `codes` could not run, because of `why`."""
        for code in codes:
            if code not in self.ran:
                self.not_run.setdefault(code, why)


S = TypeVar("S")


class RuleSet(Generic[S]):
    """Checks registered by the codes they decide, all run over one subject."""

    def __init__(self) -> None:
        self._checks: list[tuple[tuple[str, ...], Callable[[S, Context], None]]] = []

    def rule(
        self, *codes: str
    ) -> Callable[[Callable[[S, Context], None]], Callable[[S, Context], None]]:
        """Register the decorated check as deciding `codes`."""

        def register(check: Callable[[S, Context], None]) -> Callable[[S, Context], None]:
            self._checks.append((codes, check))
            return check

        return register

    @property
    def codes(self) -> frozenset[str]:
        """Every code a check of this set decides."""
        return frozenset(code for codes, _ in self._checks for code in codes)

    def run(self, subject: S, ctx: Context) -> None:
        """Run every check whose rule the profile applies; a crashing check fails spisync-error."""
        for codes, check in self._checks:
            if not any(ctx.applies(code) for code in codes):
                continue
            try:
                check(subject, ctx)
            except Exception as exc:  # One broken check must not hide the other rules.
                detail = f"pravidlo {', '.join(codes)}: {type(exc).__name__}: {exc}"
                ctx.fail(SPISYNC_ERROR, detail, METS_FILE)
                ctx.skip(codes, "kontrola selhala")
                continue
            ctx.ran.update(codes)

    def skip(self, ctx: Context, why: str) -> None:
        """Record every code of this set as not run, because of `why`."""
        ctx.skip(self.codes, why)
