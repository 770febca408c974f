"""A gunicorn config for experiments: the project's gunicorn.conf.py plus a GC pause probe.

    python -m bench.sse_load --gunicorn-config bench/gc_probe.py ...

Every worker times each garbage collection (``gc.callbacks``) and rewrites
``$BENCH_GC_LOG-<pid>.json`` with counts and pauses per generation at most once a second;
the runner reads these files into the row (``gc``). With ``BENCH_GC_FREEZE=0`` the project's
``gc.freeze()`` hook is skipped, to measure what it is worth; with ``BENCH_GC_REFREEZE_S=5`` a
greenlet calls ``gc.freeze()`` every 5 s, so the objects of streams held since then leave the
generations a full collection walks (the experiment behind the recommendation in
docs/PERFORMANCE.md).
"""
import gc
import json
import os
import runpy
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_project = runpy.run_path(os.path.join(_ROOT, "gunicorn.conf.py"))
globals().update({k: v for k, v in _project.items()
                  if not k.startswith("_") and k not in ("gc", "json", "os", "runpy", "time")})
_project_post_worker_init = _project.get("post_worker_init")


def _install_probe(path):
    stats = {str(g): {"count": 0, "total_ms": 0.0, "max_ms": 0.0, "cpu_ms": 0.0}
             for g in range(3)}
    state = {"t0": 0.0, "c0": 0.0, "dumped": 0.0}

    def callback(phase, info):
        now, cpu = time.perf_counter(), time.thread_time()
        if phase == "start":
            state["t0"], state["c0"] = now, cpu
            return
        pause = (now - state["t0"]) * 1000.0
        entry = stats[str(info["generation"])]
        entry["count"] += 1
        entry["total_ms"] += pause
        entry["cpu_ms"] += (cpu - state["c0"]) * 1000.0
        entry["max_ms"] = max(entry["max_ms"], pause)
        if info["generation"] == 2 or now - state["dumped"] > 1.0:
            state["dumped"] = now
            with open(path, "w") as fh:
                json.dump({"stats": stats, "frozen": gc.get_freeze_count(),
                           "tracked_gen_counts": gc.get_count()}, fh)

    gc.callbacks.append(callback)


def post_worker_init(worker):
    """The project's hook (gc.freeze), unless BENCH_GC_FREEZE=0; then the probe."""
    if _project_post_worker_init and os.environ.get("BENCH_GC_FREEZE", "1") != "0":
        _project_post_worker_init(worker)
    prefix = os.environ.get("BENCH_GC_LOG")
    if prefix:
        _install_probe(f"{prefix}-{os.getpid()}.json")
    every = float(os.environ.get("BENCH_GC_REFREEZE_S", "0") or 0)
    if every > 0:
        import gevent

        def refreeze():
            while True:
                gevent.sleep(every)
                gc.freeze()

        gevent.spawn(refreeze)
