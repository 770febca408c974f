"""GET /api/health: 200 when the database and Redis answer and a worker consumes, else 503."""
from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import fields

from portal.health.service import check
from portal.routes import public
from portal.schemas import Schema

blp = Blueprint("health", __name__, url_prefix="/api", description="Liveness")


class HealthSchema(Schema):
    status = fields.String()
    db = fields.String()
    redis = fields.String()
    worker = fields.String()


@blp.route("/health", methods=["GET"])
@public
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema)
def health():
    """Status of each backing part (no auth)."""
    result = check()
    response = jsonify(result)
    response.status_code = 200 if result["status"] == "ok" else 503
    return response
