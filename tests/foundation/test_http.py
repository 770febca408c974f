"""Cross-cutting HTTP behaviour: error shape, health, OpenAPI."""
import pytest

from portal import create_app
from tests.helpers import config_for, free_port, wait_until


def test_unknown_route_is_404_in_shape(client):
    response = client.get("/api/nowhere")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "No such resource."}}


def test_wrong_method_is_405_in_shape(client):
    response = client.delete("/api/health")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_health_ok_while_a_worker_consumes(client, celery_worker):
    response = wait_until(lambda: (r := client.get("/api/health")).status_code == 200 and r,
                          what="a worker heartbeat")
    assert response.get_json() == {"status": "ok", "db": "ok", "redis": "ok", "worker": "ok"}


def test_health_is_503_when_no_worker_consumes(client):
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "degraded", "db": "ok", "redis": "ok",
                                   "worker": "down"}


def test_health_is_503_when_redis_is_down(database_url):
    app = create_app("testing", config_for(
        database_url, f"redis://127.0.0.1:{free_port()}/0"))
    response = app.test_client().get("/api/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "degraded", "db": "ok", "redis": "down",
                                   "worker": "down"}


def test_health_is_503_when_the_database_is_down(redis_url, tmp_path):
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"
    app = create_app("testing", config_for(url, redis_url))
    response = app.test_client().get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["db"] == "down"


def test_authenticated_call_with_redis_down_is_503_not_500(app, database_url, client, auth):
    headers = auth("tenant")
    down = create_app("testing", config_for(database_url, f"redis://127.0.0.1:{free_port()}/0"))
    response = down.test_client().get("/api/auth/me", headers=headers)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"


def test_idempotent_post_with_the_database_down_is_503(redis_url, auth, demo):
    headers = {**auth("tenant"), "Idempotency-Key": "db-down-1"}
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"
    down = create_app("testing", config_for(url, redis_url))
    response = down.test_client().post("/api/tickets", headers=headers, json={
        "propertyId": demo["prop1"], "title": "Tap", "description": "Drips", "priority": "LOW"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"


def test_openapi_describes_every_endpoint(app, client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items()
                  for method in ops if method in ("get", "post", "patch", "put", "delete")}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith("api-docs"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        path = "/".join(seg.split(":")[-1] if seg.startswith("{") else seg
                        for seg in path.split("/"))
        path = path.replace("{", "{").replace("}", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)


@pytest.mark.parametrize("path", ["/api/auth/me", "/api/properties"])
def test_token_in_query_string_is_not_accepted(app, auth, path):
    token = auth("tenant")["Authorization"].split()[1]
    fresh = app.test_client()  # no login cookies
    assert fresh.get(f"{path}?access_token={token}").status_code == 401


def test_an_unforeseen_integrity_error_is_a_409_and_rolls_back(database_url, redis_url, auth):
    from flask import Blueprint

    from portal.auth.models import User
    from portal.extensions import db

    app = create_app("testing", config_for(database_url, redis_url))
    client = app.test_client()
    probe = Blueprint("integrity_probe", __name__)

    @probe.route("/api/_probe/duplicate-user", methods=["POST"])
    def duplicate_user():
        db.session.add(User(email="tenant@example.com", name="Twin", role="TENANT",
                            password_hash="x"))
        db.session.commit()
        return {}

    app.register_blueprint(probe)
    response = client.post("/api/_probe/duplicate-user", headers=auth("ops"))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    with app.app_context():
        assert db.session.execute(db.select(User).where(User.name == "Twin")).first() is None
