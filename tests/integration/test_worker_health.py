"""/api/health tells a worker that consumes from one that is frozen or gone (real processes)."""
import signal
import subprocess

from tests.helpers import free_port
from tests.integration import processes as proc


def _health(base):
    return proc.request(base, "GET", "/api/health", timeout=5)


def _check_worker(base, *args):
    """Exit status of scripts/check-worker (the production liveness check) against ``base``."""
    return subprocess.run([str(proc.ROOT / "scripts" / "check-worker"), "--url",
                           base + "/api/health", *args], timeout=30).returncode


def test_health_reports_a_worker_that_stopped_consuming(app, database_url, redis_url, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = proc.process_env(database_url, redis_url, WORKER_HEARTBEAT_S=0.5,
                           WORKER_HEARTBEAT_TTL_S=2, CELERY_CONCURRENCY=2)
    down = (503, {"status": "degraded", "db": "ok", "redis": "ok", "worker": "down"})
    with proc.ExitStack() as stack:
        stack.enter_context(proc.web(env, port, tmp_path, workers=1))
        proc.wait_until(lambda: _health(base) == down, timeout=60, what="the web, no worker yet")
        worker = stack.enter_context(proc.worker(env, tmp_path))
        proc.wait_for_web(base, timeout=60)
        assert _health(base) == (200, {"status": "ok", "db": "ok", "redis": "ok", "worker": "ok"})

        assert _check_worker(base) == 0

        worker.send_signal(signal.SIGSTOP)  # alive, consuming nothing
        try:
            proc.wait_until(lambda: _health(base) == down, timeout=15, what="worker down")
            # The liveness check sees it and runs its restart command (here: thaw it).
            assert _check_worker(base, "--restart", f"kill -CONT {worker.pid}") == 1
            proc.wait_until(lambda: _health(base)[0] == 200, timeout=15,
                            what="the worker thawed by the check's command")
        finally:
            worker.send_signal(signal.SIGCONT)  # whatever happened above
        assert _check_worker(base) == 0

        worker.kill()
        worker.wait(timeout=10)
        proc.wait_until(lambda: _health(base) == down, timeout=15, what="worker gone")
