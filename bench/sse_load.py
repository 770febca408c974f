"""SSE load benchmark: the portal's event stream against the flask-sse pattern, same run, same clients.

    python -m bench.sse_load --clients 1000,5000,10000,20000            # broadcast, both targets
    python -m bench.sse_load --scenarios targeted --clients 20000 --audience 2000 --targets portal
    make bench BENCH_ARGS="--clients 1000"

Starts its own redis-server, a fresh migrated + seeded SQLite database, a Celery worker and, per
run, a fresh gunicorn (gevent, 2 workers); spreads the SSE clients over several load-generator
processes; prints one row per run and the portal/baseline ratios. See docs/PERFORMANCE.md.
"""
import argparse
import json
import sys

from bench import report
from bench.runner import Bench
from bench.scenarios import SCENARIOS
from bench.servers import warn_if_backlog_capped


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.sse_load", description=__doc__.split("\n")[0])
    p.add_argument("--clients", default="1000", help="comma-separated N values (default 1000)")
    p.add_argument("--scenarios", default="broadcast",
                   help="comma-separated: " + ", ".join(SCENARIOS) + " (default broadcast)")
    p.add_argument("--targets", default="portal,baseline",
                   help="comma-separated: portal, baseline (publish inside a web request, as "
                        "flask-sse does), baseline-redis (PUBLISH from outside the web workers), "
                        "nchan (nginx + nchan, the C pub/sub floor: no auth)")
    p.add_argument("--audience", type=int, default=2000, help="targeted: clients in the audience")
    p.add_argument("--events", type=int, default=10, help="events fired per run")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between fired events")
    p.add_argument("--drain", type=float, default=15.0, help="max seconds to wait for stragglers")
    p.add_argument("--settle", type=float, default=3.0, help="seconds between connect and RSS")
    p.add_argument("--hold", type=float, default=0.0, help="idle: seconds to hold the streams")
    p.add_argument("--procs", type=int, default=4, help="load-generator processes")
    p.add_argument("--concurrency", type=int, default=100, help="connects in flight per process")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--worker-connections", type=int, default=15000)
    p.add_argument("--gunicorn-config", default=None,
                   help="portal's gunicorn config (default: the repository's gunicorn.conf.py)")
    p.add_argument("--no-project-config", action="store_true",
                   help="run the portal without gunicorn.conf.py (no gc.freeze hook)")
    p.add_argument("--profile", choices=("connect", "events"),
                   help="sample the web workers with py-spy during that phase (bench/profile.py)")
    p.add_argument("--fire", choices=("auto", "api", "outbox"), default="auto",
                   help="fire events through the API, or write outbox rows + enqueue delivery "
                        "(auto: the API when POST /api/tickets and /api/finance/invoices exist)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the portal's processes (e.g. SSE_GC_FREEZE=0)")
    p.add_argument("--http10", action="store_true", help="HTTP/1.0 requests (no chunking)")
    p.add_argument("--source-addrs", default="127.0.0.2-127.0.0.9", type=_addresses,
                   help="local addresses the client sockets bind to, round-robin per stream "
                        "(A-B range or comma list; 'none': the kernel's choice). One address "
                        "has ~28,000 ephemeral ports towards one server port")
    p.add_argument("--nofile", type=int, default=65536,
                   help="open-file limit (soft and hard) for the bench's processes and the "
                        "servers it starts; raising the hard limit needs CAP_SYS_RESOURCE")
    p.add_argument("--nchan-worker-connections", type=int, default=50000,
                   help="nchan target: nginx worker_connections (each of --workers workers)")
    p.add_argument("--nchan-no-reuseport", action="store_true",
                   help="nchan target: one shared listening socket (nginx's default) instead of "
                        "one per worker")
    p.add_argument("--storm-before", type=int, default=3,
                   help="storm: events read before the drop (each client then has an id)")
    p.add_argument("--storm-concurrency", type=int, default=0,
                   help="storm: reconnects in flight per load generator (0: all at once)")
    p.add_argument("--storm-fire-every", type=float, default=0.5,
                   help="storm: seconds between events fired while the clients reconnect")
    p.add_argument("--storm-max-during", type=int, default=20,
                   help="storm: at most this many events fired during the storm")
    p.add_argument("--json", help="also write every row as JSON to this file")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs) afterwards")
    return p.parse_args(argv)


def _addresses(text):
    """'127.0.0.2-127.0.0.9' or '127.0.0.2,127.0.0.3' → a list of addresses ('none' → [])."""
    if text in ("", "none"):
        return []
    out = []
    for part in text.split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            head, a = first.rsplit(".", 1)
            b = last.rsplit(".", 1)[1]
            out += [f"{head}.{x}" for x in range(int(a), int(b) + 1)]
        else:
            out.append(part)
    return out


def main(argv=None):
    args = parse_args(argv)
    sizes = [int(x) for x in args.clients.split(",") if x]
    scenarios = [s for s in args.scenarios.split(",") if s]
    targets = [t for t in args.targets.split(",") if t]
    bench = Bench(args)
    rows = []
    warn_if_backlog_capped()
    try:
        bench.setup()
        report.header(args, bench)
        for scenario in scenarios:
            for n in sizes:
                for target in targets:
                    report.note(f"run: {target} {scenario} N={n}")
                    try:
                        row = bench.run(target, scenario, n)
                    except Exception as exc:  # one run falling over must not lose the others
                        row = {"target": target, "scenario": scenario, "n": n,
                               "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                    rows.append(row)
                    report.progress(row)
                    if args.json:
                        with open(args.json, "w") as fh:
                            json.dump(rows, fh, indent=1, default=str)
    except KeyboardInterrupt:
        report.note("interrupted")
    finally:
        bench.teardown()
    report.table(rows)
    return 0 if rows and all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
