"""The API reference page, GET /api/docs: Swagger UI over /api/openapi.json, every file of it
served by the portal from the swagger-ui-py package (nothing from another origin).

flask-smorest renders the page (OPENAPI_SWAGGER_UI_PATH / _URL in config.py); this blueprint
serves the files the page loads.
"""
from importlib.resources import files

from flask import Blueprint, send_from_directory

ASSETS_URL = "/api/docs/assets/"
ASSETS_DIR = str(files("swagger_ui") / "static")

# Named beside flask-smorest's "api-docs" blueprint (the page, openapi.json): not in the API.
blp = Blueprint("api-docs-assets", __name__)


@blp.route(ASSETS_URL + "<path:filename>", methods=["GET"])
def asset(filename):
    """One Swagger UI file (script, style sheet, icon); cached a day."""
    return send_from_directory(ASSETS_DIR, filename, max_age=86400)
