"""An open page outlives its access token: when the stream says ``token_expiring`` the page
renews the token with the refresh cookie and reconnects, and stays live and signed in."""
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LIVE_TIMEOUT_MS, Portals, mark_no_reload, never_reloaded
from tests.browser.test_live_pages import report
from tests.integration.events_stack import running_stack

ACCESS_S = 12  # the stream closes at half the lifetime left, so the page renews every ~6 s


@pytest.fixture(scope="module")
def short_lived(app, demo, database_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("short-tokens"), database_url,
                       JWT_ACCESS_TOKEN_EXPIRES_S=ACCESS_S) as running:
        yield running


def renewed(response):
    return response.url.endswith("/api/auth/refresh") and response.status == 200


def test_an_open_page_renews_its_token_and_stays_live(browser, short_lived):
    portals = Portals(browser, short_lived.base)
    try:
        landlord = portals.open("landlord")
        mark_no_reload(landlord)
        # Two renewals: by the second, the token the page signed in with has expired.
        for _ in range(2):
            with landlord.expect_response(renewed, timeout=ACCESS_S * 1000 * 2):
                pass
        report(portals.open("tenant", path="/tickets/new"), "Cracked tile")
        expect(landlord.get_by_text("Cracked tile")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        assert never_reloaded(landlord)
        landlord.click("text=Cracked tile")  # a plain navigation: the renewed cookie signs it
        expect(landlord.locator("h1")).to_have_text("Cracked tile")
        assert portals.foreign_requests() == []
    finally:
        portals.close()
