"""The ticket page's thread in two browsers: the tenant attaches a photo from the phone and
comments; the landlord's open page shows both without a reload, and its internal note never
reaches the tenant's page."""
import io

from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import (LIVE_TIMEOUT_MS, PHONE, mark_no_reload, never_reloaded,
                                    screenshot, wait_live)
from tests.browser.test_live_pages import report

LIVE = {"timeout": LIVE_TIMEOUT_MS}


def _photo(tmp_path):
    path = tmp_path / "leak.jpg"
    image = Image.new("RGB", (800, 600), (40, 90, 160))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return path


def test_a_photo_and_a_comment_reach_the_open_page_live(portals, tmp_path):
    tenant = portals.open("tenant", viewport=PHONE, path="/tickets/new")
    ticket = report(tenant, "Damp patch on the ceiling")
    landlord = portals.open("landlord", path=ticket)
    mark_no_reload(landlord)

    upload = tenant.locator('input[type="file"][name="file"]')
    assert upload.get_attribute("accept") == "image/*"
    assert upload.get_attribute("capture") is not None
    upload.set_input_files(str(_photo(tmp_path)))
    tenant.click('button:text-is("Upload photo")')
    wait_live(tenant)
    tenant.fill('[name="body"]', "It grew overnight")
    tenant.click('button:text-is("Send")')
    wait_live(tenant)

    photo = landlord.locator("img.thread__photo")
    expect(photo).to_be_visible(**LIVE)
    expect(landlord.locator(".thread__item--comment")).to_contain_text("It grew overnight", **LIVE)
    # The image really loaded, through the authenticated file URL.
    landlord.wait_for_function(
        "() => { const i = document.querySelector('img.thread__photo');"
        " return i && i.complete && i.naturalWidth > 0; }", timeout=LIVE_TIMEOUT_MS)
    assert never_reloaded(landlord)

    mark_no_reload(tenant)
    landlord.fill('[name="body"]', "Ask the roofer first")
    landlord.check('[name="internal"]')
    landlord.click('button:text-is("Send")')
    landlord.fill('[name="body"]', "We will send someone on Monday")
    landlord.click('button:text-is("Send")')
    expect(tenant.locator(".thread__item--comment")).to_contain_text(
        ["It grew overnight", "We will send someone on Monday"], **LIVE)
    expect(tenant.get_by_text("Ask the roofer first")).to_have_count(0)
    assert never_reloaded(tenant)
    screenshot(tenant, "tenant-ticket-thread-375")
    assert portals.foreign_requests() == []
