"""`make run`'s process runner (scripts/run.sh: supervisord over the Procfile) restarts a process
that dies instead of stopping the others, and stops everything it started when told to."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import free_port
from tests.integration import processes as proc

VENV = Path(sys.executable).parent.parent


def _pid(ctl, name):
    """The PID supervisord reports for a RUNNING program, else None."""
    result = subprocess.run(ctl + ["status", name], capture_output=True, text=True, timeout=10)
    match = re.search(r"RUNNING\s+pid (\d+)", result.stdout)
    return int(match.group(1)) if match else None


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_a_process_that_dies_is_restarted_and_the_others_keep_running(app, database_url,
                                                                      redis_url, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = proc.process_env(database_url, redis_url, PORT=port, GUNICORN_WORKERS=1,
                           CELERY_CONCURRENCY=2, RUN_DIR=tmp_path, VENV=VENV,
                           CELERY_BEAT_SCHEDULE=tmp_path / "beat-schedule")
    ctl = [str(VENV / "bin" / "supervisorctl"), "-c", str(tmp_path / "supervisord.conf")]
    celery = app.extensions["celery"]
    with open(tmp_path / "run.log", "wb") as log:
        runner = subprocess.Popen(["bash", "scripts/run.sh"], cwd=proc.ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        proc.wait_for_web(base, timeout=60)
        pids = {name: proc.wait_until(lambda n=name: _pid(ctl, n), timeout=30, what=name)
                for name in ("web", "worker", "beat")}
        assert celery.send_task("maintenance.ping", args=["before"]).get(timeout=30) == \
            "pong:before"

        os.kill(pids["worker"], signal.SIGKILL)
        new_worker = proc.wait_until(lambda: (_pid(ctl, "worker") or pids["worker"])
                                     != pids["worker"] and _pid(ctl, "worker"),
                                     timeout=30, what="the worker restarted")
        # The others were left alone, and the new worker consumes.
        assert _pid(ctl, "web") == pids["web"] and _pid(ctl, "beat") == pids["beat"]
        assert celery.send_task("maintenance.ping", args=["after"]).get(timeout=30) == \
            "pong:after"

        os.kill(pids["web"], signal.SIGKILL)  # gunicorn's master: its worker goes with it
        proc.wait_until(lambda: (_pid(ctl, "web") or pids["web"]) != pids["web"],
                        timeout=30, what="the web process restarted")
        proc.wait_for_web(base, timeout=60)
        assert _pid(ctl, "worker") == new_worker
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=60)
    # Everything it started is gone.
    still = [name for name, pid in pids.items() if _alive(pid)]
    assert not still and not _alive(new_worker), still
