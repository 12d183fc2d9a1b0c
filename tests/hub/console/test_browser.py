"""The console in a real browser (Debian's Chromium via Playwright) against a real hub, broker and agents.

Screenshots of each page are saved under the test's tmp folder; the path is printed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.hub.console.conftest import PASSWORDS
from tests.hub.console.test_console_api import _publish_as_agent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_MS = 60_000


@pytest.fixture
async def browser():
    """Debian's Chromium, headless (never a browser downloaded by Playwright)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where this test's screenshots go (printed so a reviewer can find them)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    print(f"\nconsole screenshots: {folder}")
    return folder


async def _login(browser: Browser, base: str, name: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1440, "height": 900})).new_page()
    await page.goto(f"{base}/")
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.get_by_label("Jméno").fill(name)
    await page.get_by_label("Heslo").fill(PASSWORDS[name][1])
    await page.get_by_role("button", name="Přihlásit").click()
    await expect(page.locator("h1")).to_have_text("Přehled obcí")
    return page


async def test_operator_watches_obce_and_replays_a_dead_letter(console_net, browser, shots):
    """Both obce are green; a stopped agent's row turns to warning live; a dead letter is replayed and audited."""
    page = await _login(browser, console_net.url, "operator")
    rows = page.locator("#rows tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator('#rows tr[data-status="ok"]')).to_have_count(2)
    await page.screenshot(path=shots / "01-prehled-zelene.png", full_page=True)

    stopped, running = console_net.icos
    await page.get_by_role("link", name="Obec Lhota u Příbrami").click()
    await expect(page.locator("h1")).to_contain_text("Obec Lhota u Příbrami")
    await expect(page.get_by_text("zapis.txt").first).to_be_visible()
    await page.screenshot(path=shots / "02-obec.png", full_page=True)
    await page.get_by_role("button", name="Znovu prohledat složky").click()
    await expect(page.locator(".flash")).to_contain_text("odeslán agentovi")
    await page.goto(f"{console_net.url}/")

    await console_net.agents[stopped].halt()
    # No reload: the page's own polling must bring the change.
    await expect(page.locator(f'#rows tr[data-ico="{stopped}"]')).to_have_attribute(
        "data-status", "warning", timeout=WAIT_MS
    )
    await expect(page.locator(f'#rows tr[data-ico="{running}"]')).to_have_attribute(
        "data-status", "ok", timeout=WAIT_MS
    )
    await page.screenshot(path=shots / "03-prehled-varovani.png", full_page=True)

    await _publish_as_agent(console_net, running, b"\x00 not msgpack", "file_version")
    await page.get_by_role("link", name=re.compile("Nedoručitelné zprávy")).click()
    letter = page.locator("#dead-letters tr[data-letter]")
    for _ in range(60):
        if await letter.count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(letter).to_have_count(1)
    await expect(letter).to_contain_text("undecodable")
    await page.screenshot(path=shots / "04-nedorucitelne.png", full_page=True)
    await letter.get_by_role("link", name="Zobrazit").click()
    await expect(page.locator("h1")).to_contain_text("Nedoručitelná zpráva")
    await expect(page.locator("pre").first).to_contain_text("x-spisync-reject-reason")
    await page.screenshot(path=shots / "05-zprava.png", full_page=True)
    await page.get_by_role("button", name="Znovu odeslat").click()
    await expect(page.locator(".flash")).to_have_text("zpráva byla znovu odeslána")

    await page.get_by_role("link", name="Auditní záznam").click()
    entry = page.locator("#audit tbody tr").filter(has_text="znovu odeslání nedoručitelné zprávy")
    await expect(entry.first).to_contain_text("operator")
    await expect(entry.first).to_contain_text("provedeno")
    await page.screenshot(path=shots / "06-audit.png", full_page=True)


async def test_viewer_replay_csrf_and_login_are_refused(console_net, browser, shots):
    """No session leads to the login page; a viewer's replay and a POST without the CSRF token are refused."""
    context = await browser.new_context()
    anonymous = await context.new_page()
    await anonymous.goto(f"{console_net.url}/dead-letters")
    await expect(anonymous).to_have_url(re.compile(r"/login\?next=/dead-letters"))
    await anonymous.screenshot(path=shots / "01-prihlaseni.png", full_page=True)

    await _publish_as_agent(console_net, console_net.icos[0], b"\x00 broken", "file_version")
    page = await _login(browser, console_net.url, "ctenar")
    await page.goto(f"{console_net.url}/dead-letters")
    letter = page.locator("#dead-letters tr[data-letter]")
    for _ in range(60):
        if await letter.count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(letter).to_have_count(1)
    await expect(letter.get_by_role("button")).to_have_count(0)
    await page.screenshot(path=shots / "02-ctenar-nedorucitelne.png", full_page=True)
    letter_id = await letter.get_attribute("data-letter")

    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = await page.request.post(
        f"{console_net.url}/dead-letters/{letter_id}/replay", headers={"X-CSRF-Token": csrf or ""}
    )
    assert refused.status == 403
    assert "nemáte oprávnění" in await refused.text()

    operator = await _login(browser, console_net.url, "operator")
    no_token = await operator.request.post(f"{console_net.url}/dead-letters/{letter_id}/replay")
    assert no_token.status == 403
    assert "CSRF" in await no_token.text()
    await operator.goto(f"{console_net.url}/audit")
    await expect(operator.locator("#audit tbody tr").first).to_contain_text("odmítnut")
    await expect(operator.locator("#audit")).to_contain_text("ctenar")
    await operator.screenshot(path=shots / "03-audit-odmitnuti.png", full_page=True)


async def test_overview_sorts_by_column_and_filters_by_name(console_net, browser, shots):
    """Clicking a column header sorts the rows; the text filter keeps only matching obce."""
    page = await _login(browser, console_net.url, "ctenar")
    await page.get_by_role("link", name="IČO", exact=True).click()
    icos = [await row.get_attribute("data-ico") for row in await page.locator("#rows tr").all()]
    assert icos == sorted(console_net.icos)
    await page.get_by_role("link", name="Obec", exact=True).click()
    names = await page.locator("#rows tr td:nth-child(2)").all_inner_texts()
    assert names == ["Obec Lhota u Příbrami", "Obec Vlkava"]
    await page.get_by_label("Hledat obec (název nebo IČO)").fill("vlkava")
    await page.get_by_role("button", name="Použít").click()
    await expect(page.locator("#rows tr")).to_have_count(1)
    await expect(page.locator("#rows tr")).to_contain_text("Obec Vlkava")
    await page.screenshot(path=shots / "01-filtr.png", full_page=True)
