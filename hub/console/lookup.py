"""The console's lookups by URL (an obec by IČO, a dead letter by id), refusing with 404 in Czech.

Pages, API and actions find things the same way and refuse an unknown one
with the same words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.console import views
from hub.console.auth import Refused
from hub.console.context import CONSOLE

if TYPE_CHECKING:
    from aiohttp import web

    from hub.console.context import Console
    from hub.store.deadletters import DeadLetter

__all__ = ["dead_letter_or_404", "letter_id_or_404", "obec_or_404"]


async def obec_or_404(request: web.Request) -> dict[str, Any]:
    """Return the detail of the obec `{ico}` of `request`.

    Raises:
        Refused: 404 if the hub knows no such obec.
    """
    console: Console = request.app[CONSOLE]
    ico = request.match_info["ico"]
    detail = await views.obec_detail(
        console.config, console.store, console.broker, console.obce, ico
    )
    if detail is None:
        raise Refused(404, f"obec s IČO {ico} hub nezná")
    return detail


def letter_id_or_404(request: web.Request) -> int:
    """Return the dead letter id `{id}` of `request`.

    Raises:
        Refused: 404 if the id is not a number.
    """
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise Refused(404, f"nedoručitelná zpráva č. {raw} neexistuje")
    return int(raw)


async def dead_letter_or_404(request: web.Request) -> DeadLetter:
    """Return the dead letter `{id}` of `request`.

    Raises:
        Refused: 404 if there is no such dead letter.
    """
    letter = await request.app[CONSOLE].store.dead_letters.get(letter_id_or_404(request))
    if letter is None:
        raise Refused(404, f"nedoručitelná zpráva č. {request.match_info['id']} neexistuje")
    return letter
