"""The REST benchmark: the portal against a bare Flask baseline on the loaded PostgreSQL dataset.

``python -m bench.rest --database-url postgresql://…`` (load it first: ``python -m bench.dataset``)
starts a private redis-server, the portal under gunicorn + gevent (2 workers, the repository's
gunicorn.conf.py) with a Celery worker, and ``bench/rest_baseline.py`` under the same gunicorn;
logs in as the demo landlord (and tenant); then runs ``wrk`` against each endpoint, portal and
baseline back to back, and prints req/s, the ratio, latency percentiles, non-2xx answers and the
PostgreSQL backends opened during each run (``pg_stat_database.sessions``). ``uptime``'s load
average is printed with every run: on a shared machine, compare the ratios, not the absolutes.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import psycopg

from bench import profile
from bench.dataset import libpq_url
from bench.proc import children, raise_fd_limit, total_cpu
from bench.servers import ROOT, base_env, start_celery, start_gunicorn, start_redis, warm_up

WRK = shutil.which("wrk") or "/usr/bin/wrk"

LUA = """
wrk.method = %(method)s
wrk.headers["Authorization"] = %(auth)s
wrk.headers["Content-Type"] = "application/json"
wrk.body = %(body)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %%d %%d %%d %%d %%d %%d\\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99),
    summary.duration))
end
"""


def lua_string(value) -> str:
    return "nil" if value is None else json.dumps(value)  # a JSON string is a Lua string here


def load_average() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def http(port, method, path, token=None, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


class Bench:
    def __init__(self, args):
        self.args = args
        self.url = args.database_url
        self.workdir = tempfile.mkdtemp(prefix="bench-rest-")
        self.managed = []
        self.pg = psycopg.connect(libpq_url(self.url), autocommit=True)

    def setup(self):
        raise_fd_limit()
        redis, redis_url = start_redis(self.workdir)
        self.managed.append(redis)
        # Both servers (and the worker) get the same pool size; PostgreSQL's max_connections
        # (100 by default) is shared by everything on the machine.
        env = base_env(self.workdir, redis_url, DATABASE_URL=self.url,
                       LOGIN_RATE_LIMIT="10 per minute", DB_POOL_SIZE=self.args.db_pool,
                       **dict(self.args.env))
        self.managed.append(start_celery(env, self.workdir))
        config = os.path.join(ROOT, "gunicorn.conf.py")
        self.ports = {}
        for name, app in (("portal", "wsgi:app"), ("baseline", "bench.rest_baseline:app")):
            server, port = start_gunicorn(name, app, env, self.workdir, self.args.workers,
                                          15000, config=config)
            self.managed.append(server)
            warm_up(port, self.args.workers)
            self.ports[name] = port
        self.servers = {m.name: m for m in self.managed}
        portal = self.ports["portal"]
        self.landlord = http(portal, "POST", "/api/auth/login",
                             body={"email": "landlord@example.com", "password": "password123"}
                             )["accessToken"]
        tenant = http(portal, "POST", "/api/auth/login",
                      body={"email": "tenant@example.com", "password": "password123"})
        self.tenant = tenant["accessToken"]
        self.property_id = self.pg.execute(
            "SELECT t.property_id FROM users u JOIN tenancies t ON t.id = u.tenant_id"
            " WHERE u.email = 'tenant@example.com'").fetchone()[0]
        first = http(portal, "GET", "/api/tickets?limit=1", token=self.landlord)
        self.ticket_id = first["items"][0]["id"]
        self.deep_cursor = self._walk(self.args.deep)

    def _walk(self, rows):
        """The cursor after ``rows`` rows of the landlord's list, fetched page by page."""
        cursor, seen = None, 0
        while seen < rows:
            path = "/api/tickets?limit=100" + (f"&cursor={cursor}" if cursor else "")
            page = http(self.ports["portal"], "GET", path, token=self.landlord)
            seen += len(page["items"])
            cursor = page["nextCursor"]
        return cursor

    def endpoints(self):
        """(name, method, path, token, body, connections, targets)."""
        both, portal = ("portal", "baseline"), ("portal",)
        ticket = self.ticket_id
        return [
            ("GET /api/tickets?limit=50", "GET", "/api/tickets?limit=50", self.landlord, None,
             32, both),
            (f"the same, {self.args.deep:,} rows deep", "GET",
             f"/api/tickets?limit=50&cursor={self.deep_cursor}", self.landlord, None, 32, both),
            ("GET /api/tickets/{id}", "GET", f"/api/tickets/{ticket}", self.landlord, None,
             32, both),
            ("GET /api/tickets/{id}/timeline", "GET", f"/api/tickets/{ticket}/timeline",
             self.landlord, None, 32, both),
            ("GET /api/notifications/unread-count", "GET", "/api/notifications/unread-count",
             self.landlord, None, 128, both),
            ("GET /api/finance/invoices?limit=50", "GET", "/api/finance/invoices?limit=50",
             self.landlord, None, 32, both),
            ("POST /api/tickets", "POST", "/api/tickets", self.tenant,
             {"propertyId": self.property_id, "title": "Benchmark leak",
              "description": "Water under the sink.", "priority": "MEDIUM"}, 32, portal),
        ]

    def sessions(self) -> int:
        return self.pg.execute("SELECT sessions FROM pg_stat_database"
                               " WHERE datname = current_database()").fetchone()[0]

    def wrk(self, target, method, path, token, body, connections, duration=None) -> dict:
        script = os.path.join(self.workdir, "wrk.lua")
        with open(script, "w") as fh:
            fh.write(LUA % {"method": lua_string(method), "auth": lua_string(f"Bearer {token}"),
                            "body": lua_string(None if body is None else json.dumps(body))})
        port = self.ports[target]
        load = load_average()
        before = self.sessions()
        workers = children(self.servers[target].pid)
        cpu_before = total_cpu(workers)
        duration = duration or self.args.duration
        sampling = None
        if self.args.profile and self.args.profile in path and target == "portal":
            pids = children(self.servers["portal"].pid)
            sampling = profile.start(pids, duration,
                                     os.path.join(self.workdir, "profile"))
        done = subprocess.run([WRK, "-t", str(self.args.threads), "-c", str(connections),
                               "-d", f"{duration}s", "--timeout", "10s", "-s", script,
                               f"http://127.0.0.1:{port}{path}"],
                              capture_output=True, text=True, timeout=duration + 60)
        cpu = total_cpu(workers) - cpu_before
        opened = self.sessions() - before - 1  # our own sessions() query's connection is kept
        found = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", done.stdout, re.M)
        if not found:
            raise RuntimeError(f"wrk failed:\n{done.stdout}\n{done.stderr}")
        requests, non2xx, sock_errors, p50, p99, duration_us = map(int, found.groups())
        row = {"target": target, "rps": requests / (duration_us / 1e6), "requests": requests,
               "non2xx": non2xx, "socket_errors": sock_errors, "p50_ms": p50 / 1000,
               "p99_ms": p99 / 1000,
               "cpu_us": 1e6 * cpu / max(requests, 1), "new_backends": max(opened, 0), "load": load}
        if sampling:
            row["profile"] = profile.summarize(sampling)
        return row

    def delivered_since(self, since, wait_s=20.0) -> dict:
        """Outbox rows written since ``since``: how many, and how many the worker delivered."""
        t0 = time.monotonic()
        while True:
            total, delivered = self.pg.execute(
                "SELECT count(*), count(delivered_at) FROM outbox_events WHERE created_at >= %s",
                (since,)).fetchone()
            if delivered >= total or time.monotonic() - t0 > wait_s:
                return {"outbox": total, "delivered": delivered,
                        "drain_s": time.monotonic() - t0}
            time.sleep(0.5)

    def explain_deep(self) -> str:
        """EXPLAIN (ANALYZE, BUFFERS) of the list query at the deep cursor."""
        import base64
        stamp, row_id = json.loads(base64.urlsafe_b64decode(
            self.deep_cursor + "=" * (-len(self.deep_cursor) % 4)))
        landlord = self.pg.execute("SELECT landlord_id FROM users"
                                   " WHERE email = 'landlord@example.com'").fetchone()[0]
        plan = self.pg.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT * FROM tickets"
            " WHERE landlord_id = %s AND (created_at, id) < (%s::timestamp, %s)"
            " ORDER BY created_at DESC, id DESC LIMIT 51", (landlord, stamp.rstrip("Z"), row_id)
        ).fetchall()
        return "\n".join("    " + line for (line,) in plan)

    def fill_pools(self):
        """A short unmeasured run per server at the highest concurrency, so that each worker's
        pool has opened its connections before the measured runs count new backends."""
        for target in self.ports:
            self.wrk(target, "GET", f"/api/tickets/{self.ticket_id}", self.landlord, None, 128,
                     duration=2)

    def run(self):
        self.fill_pools()
        results = []
        only = self.args.only
        for name, method, path, token, body, connections, targets in self.endpoints():
            if only and not any(o in name for o in only):
                continue
            for target in targets:
                since = self.pg.execute("SELECT now() at time zone 'utc'").fetchone()[0]
                worker_cpu = total_cpu([self.servers["celery"].pid])
                row = self.wrk(target, method, path, token, body, connections)
                row.update(endpoint=name, connections=connections)
                if method == "POST":
                    row.update(self.delivered_since(since))
                    # The Celery worker's CPU per event it delivered, until the last one.
                    row["worker_us"] = 1e6 * (total_cpu([self.servers["celery"].pid])
                                              - worker_cpu) / max(row["delivered"], 1)
                results.append(row)
                print(f"  {name:<40} {target:<9} {row['rps']:8.0f} req/s  p50 {row['p50_ms']:7.1f}"
                      f"  p99 {row['p99_ms']:7.1f} ms  cpu/req {row['cpu_us']:6.0f} µs  non2xx {row['non2xx']}"
                      f"  new backends {row['new_backends']}  load {row['load']}"
                      + (f"  delivered {row['delivered']}/{row['outbox']}"
                         f" (+{row['drain_s']:.1f} s), worker {row['worker_us']:.0f} µs/event"
                         if "outbox" in row else ""), flush=True)
                if "profile" in row:
                    print(row["profile"])
        return results

    def teardown(self):
        for managed in reversed(self.managed):
            managed.stop()
        self.pg.close()
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def table(results) -> str:
    by = {}
    for row in results:
        by.setdefault(row["endpoint"], {})[row["target"]] = row
    lines = ["| endpoint | conns | portal req/s | baseline req/s | ratio | portal p50 | portal p99"
             " | baseline p99 | CPU/req portal / baseline | new backends (portal/baseline) | load avg |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--|"]
    for endpoint, rows in by.items():
        portal, base = rows.get("portal"), rows.get("baseline")
        ratio = f"{portal['rps'] / base['rps']:.2f}" if portal and base else "–"
        extra = ""
        if portal and "outbox" in portal:
            extra = (f" (delivered {portal['delivered']:,}/{portal['outbox']:,}; worker"
                     f" {portal['worker_us']:,.0f} µs/event)")
        lines.append(
            f"| `{endpoint}`{extra} | {portal['connections']} | {portal['rps']:,.0f} | "
            f"{base['rps']:,.0f} | " if base else
            f"| `{endpoint}`{extra} | {portal['connections']} | {portal['rps']:,.0f} | – | ")
        lines[-1] += (f"{ratio} | {portal['p50_ms']:.1f} ms | {portal['p99_ms']:.1f} ms | "
                      f"{(str(round(base['p99_ms'], 1)) + ' ms') if base else '–'} | "
                      f"{portal['cpu_us']:,.0f} / {(format(base['cpu_us'], ',.0f') + ' µs') if base else '– µs'} | "
                      f"{portal['new_backends']}/{base['new_backends'] if base else '–'} | "
                      f"{portal['load']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="the loaded database (default: $BENCH_DATABASE_URL)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db-pool", type=int, default=8,
                        help="DB_POOL_SIZE of every process (portal, baseline, worker)")
    parser.add_argument("--deep", type=int, default=10_000, help="rows before the deep page")
    parser.add_argument("--only", action="append", help="endpoints whose name contains this")
    parser.add_argument("--profile", help="py-spy the portal while a path containing this runs")
    parser.add_argument("--env", action="append", default=[], type=lambda s: s.split("=", 1),
                        help="KEY=VALUE for both servers")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url is required (load it with python -m bench.dataset)")
    bench = Bench(args)
    print(f"load average at start: {load_average()}  (2 cores shared with other work)")
    try:
        bench.setup()
        results = bench.run()
        if not args.only or any("deep" in o for o in args.only):
            print(f"  the deep page's list query ({args.deep:,} rows in):")
            print(bench.explain_deep())
    finally:
        bench.teardown()
    print()
    print(table(results))
    print(f"load average at end: {load_average()}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
