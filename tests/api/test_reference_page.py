"""GET /api/docs: the API reference page, every file it loads served by the portal itself."""
import re
from html.parser import HTMLParser
from urllib.parse import urljoin


class References(HTMLParser):
    """Every src= and href= in a page."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_reference_page_and_everything_it_loads_come_from_the_portal(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    parser = References()
    parser.feed(html)
    assert len(parser.found) >= 3
    for reference in parser.found:
        url = urljoin("http://localhost/api/docs", reference)
        assert url.startswith("http://localhost/api/docs/assets/"), reference
        asset = client.get(url.removeprefix("http://localhost"))
        assert asset.status_code == 200, reference
        assert asset.mimetype in ("text/css", "text/javascript"), (reference, asset.mimetype)
        assert len(asset.data) > 1000
    # The page loads this portal's description, and asks no other server to validate it.
    assert re.search(r'url: "/api/openapi\.json"', html)
    assert '"validatorUrl": null' in html
    assert "http://" not in html and "https://" not in html


def test_an_asset_that_does_not_exist_is_a_json_404(client):
    for path in ("/api/docs/assets/nope.js", "/api/docs/assets/../../config.py"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
