"""Boot the real stack the way `make run` does and check it end to end."""
from datetime import timedelta

from portal.database import utcnow
from portal.extensions import db
from portal.idempotency import IdempotencyKey
from tests.helpers import free_port
from tests.integration import processes as proc


def test_web_worker_and_beat_run_together(app, database_url, redis_url, tmp_path, demo):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = proc.process_env(database_url, redis_url, IDEMPOTENCY_PURGE_S=1)
    with app.app_context():  # an expired key for the beat's purge to remove
        db.session.add(IdempotencyKey(user_id=demo["users"]["tenant"], key="old", method="POST",
                                      path="/api/x", request_hash="0" * 64, state="DONE",
                                      created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    with proc.ExitStack() as stack:
        stack.enter_context(proc.web(env, port, tmp_path, workers=2))
        stack.enter_context(proc.worker(env, tmp_path))
        stack.enter_context(proc.beat(env, tmp_path))
        proc.wait_for_web(base)
        assert proc.request(base, "GET", "/api/health") == (
            200, {"status": "ok", "db": "ok", "redis": "ok", "worker": "ok"})

        status, body = proc.request(base, "POST", "/api/auth/login",
                                    {"email": "ops@example.com", "password": "password123"})
        assert status == 200 and body["user"]["role"] == "OPS"
        me = proc.request(base, "GET", "/api/auth/me",
                          headers={"Authorization": "Bearer " + body["accessToken"]})
        assert me == (200, body["user"])

        # A real round trip through the broker and the worker process.
        celery = app.extensions["celery"]
        result = celery.send_task("maintenance.ping", args=["stack"])
        assert result.get(timeout=30) == "pong:stack"

        # The beat schedules the purge; the worker runs it against the same database.
        def purged():
            with app.app_context():
                db.session.remove()
                return db.session.execute(db.select(IdempotencyKey).where(
                    IdempotencyKey.key == "old")).first() is None
        proc.wait_until(purged, timeout=30, what="the beat's idempotency purge")
