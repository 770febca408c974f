"""Per-request CPU in one process, without the network: the portal and the REST baseline through
Flask's test client, on the loaded PostgreSQL dataset, then the write path's parts.

``python -m bench.inprocess --database-url postgresql://…`` (load it first: ``make bench-data``)
starts a private redis-server, builds both apps in this process, logs in as the demo landlord and
tenant, and prints for each endpoint the CPU one request costs (``time.process_time``, best of
``--repeat`` runs of ``--requests``), portal and baseline, and their ratio. Then it files
twice ``--posts`` tickets, delivers half of their events one at a time and the rest in the
worker's batches, here, and times one Celery publish. Nothing else competes for the CPU, so these numbers move by a few per cent between runs
where the wrk figures (``bench.rest``) move by tens. They leave out gunicorn and the kernel; the
ratios are lower than over HTTP, where both servers pay those alike.

Unlike bench.rest, this imports the portal: it measures the portal's own code. The tickets it files
stay in the dataset (reload it before comparing absolute numbers between sessions).
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta

from bench.servers import ROOT, start_redis

PASSWORD = "password123"


WARM_UP = 30


def cpu_per_call(call, count, repeat, warm_up=WARM_UP) -> float:
    """Microseconds of this process's CPU per ``call()``, best of ``repeat`` runs of ``count``,
    after ``warm_up`` untimed calls."""
    return cpu_per_call_of([call], count, repeat, warm_up)[0]


def cpu_per_call_of(calls, count, repeat, warm_up=WARM_UP) -> list:
    """:func:`cpu_per_call` for several calls, their runs taken in turn (A, B, A, B, …): on a
    shared VM the CPU's speed drifts over seconds, and alternating keeps that drift out of the
    ratio between them."""
    for call in calls:
        for _ in range(warm_up):
            call()
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for index, call in enumerate(calls):
            started = time.process_time()
            for _ in range(count):
                call()
            best[index] = min(best[index], (time.process_time() - started) / count * 1e6)
    return best


def build_apps(database_url, redis_url):
    from portal import create_app
    portal = create_app("development", {
        "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url,
        "REDIS_PREFIX": "bench:", "LOGIN_RATE_LIMIT": "10000 per minute"})
    os.environ["DATABASE_URL"] = database_url.replace("postgresql+psycopg://", "postgresql://")
    os.environ["JWT_SECRET_KEY"] = portal.config["JWT_SECRET_KEY"]
    from bench import rest_baseline  # reads both settings when imported
    return portal, rest_baseline.app


def login(client, name) -> dict:
    answer = client.post("/api/auth/login",
                         json={"email": f"{name}@example.com", "password": PASSWORD})
    if answer.status_code != 200:
        raise RuntimeError(f"login as {name}: {answer.status_code} {answer.get_data(as_text=True)}")
    return {"Authorization": "Bearer " + answer.get_json()["accessToken"]}


def deep_cursor(client, headers, rows) -> str:
    cursor, seen = None, 0
    while seen < rows:
        page = client.get("/api/tickets?limit=100" + (f"&cursor={cursor}" if cursor else ""),
                          headers=headers).get_json()
        cursor, seen = page["nextCursor"], seen + len(page["items"])
        if cursor is None:
            break
    return cursor


def read_rows(portal_client, baseline_client, landlord, args):
    ticket = portal_client.get("/api/tickets?limit=1", headers=landlord).get_json()["items"][0]
    cursor = deep_cursor(portal_client, landlord, args.deep)
    paths = [("GET /api/tickets?limit=50", "/api/tickets?limit=50"),
             (f"the same, {args.deep:,} rows deep", f"/api/tickets?limit=50&cursor={cursor}"),
             ("GET /api/tickets/{id}", f"/api/tickets/{ticket['id']}"),
             ("GET /api/tickets/{id}/timeline", f"/api/tickets/{ticket['id']}/timeline"),
             ("GET /api/notifications/unread-count", "/api/notifications/unread-count"),
             ("GET /api/finance/invoices?limit=50", "/api/finance/invoices?limit=50")]
    rows = []
    for name, path in paths:
        if args.only and not any(part in name for part in args.only):
            continue
        for target, client in (("portal", portal_client), ("baseline", baseline_client)):
            status = client.get(path, headers=landlord).status_code
            if status != 200:
                raise RuntimeError(f"{target} {path}: {status}")
        mine, theirs = cpu_per_call_of(
            [lambda: portal_client.get(path, headers=landlord),
             lambda: baseline_client.get(path, headers=landlord)], args.requests, args.repeat)
        rows.append((name, mine, theirs))
        print(f"  {name:<40} portal {mine:7.0f} µs  baseline {theirs:7.0f} µs  "
              f"ratio {theirs / mine:.2f}", flush=True)
    return rows


def write_rows(portal, client, args):
    """CPU of one POST /api/tickets, of delivering its event, and of one Celery publish."""
    import sqlalchemy as sa

    from portal.database import utcnow
    from portal.events.delivery import deliver_event
    from portal.events.drain import drain
    from portal.events.enqueue import send_best_effort
    from portal.events.models import OutboxEvent
    from portal.extensions import db
    from portal.tasks import DELIVER_EVENT

    tenant = login(client, "tenant")
    with portal.app_context():
        property_id = db.session.execute(sa.text(
            "SELECT t.property_id FROM users u JOIN tenancies t ON t.id = u.tenant_id"
            " WHERE u.email = 'tenant@example.com'")).scalar_one()
        db.session.remove()
    body = {"propertyId": property_id, "title": "In-process benchmark",
            "description": "Water under the sink.", "priority": "MEDIUM"}

    def post():
        answer = client.post("/api/tickets", json=body, headers=tenant)
        if answer.status_code != 201:
            raise RuntimeError(f"POST /api/tickets: {answer.status_code}")
    since = utcnow() - timedelta(seconds=1)
    post_us = cpu_per_call(post, 2 * args.posts, 1)
    with portal.app_context():
        # The events of the tickets just filed (warm-up included): the older ones delivered one
        # per call, as the relay does, the rest by the worker's batches (what a task drains).
        events = iter(db.session.execute(
            sa.select(OutboxEvent.id).where(OutboxEvent.delivered_at.is_(None),
                                            OutboxEvent.created_at >= since)
            .order_by(OutboxEvent.created_at)).scalars().all()[:WARM_UP + args.posts])
        db.session.remove()

        def deliver():
            deliver_event(next(events))
            db.session.remove()
        deliver_us = cpu_per_call(deliver, args.posts, 1)
        started = time.process_time()
        drained = drain()
        batch_us = (time.process_time() - started) / max(drained, 1) * 1e6
        db.session.remove()
        publish_us = cpu_per_call(lambda: send_best_effort(DELIVER_EVENT, "evt_bench"),
                                  args.requests, args.repeat)
    rows = [("POST /api/tickets (the request)", post_us),
            ("delivering its event alone (the relay's way)", deliver_us),
            (f"delivering it in batches of {portal.config['DELIVERY_BATCH']} (the worker's way; "
             f"{drained} events)", batch_us),
            ("one Celery publish (send_task)", publish_us)]
    for name, cost in rows:
        print(f"  {name:<40} {cost:7.0f} µs", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="the loaded database (default: $BENCH_DATABASE_URL)")
    parser.add_argument("--requests", type=int, default=300, help="requests per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best is kept")
    parser.add_argument("--posts", type=int, default=300, help="tickets filed for the write path")
    parser.add_argument("--deep", type=int, default=10_000, help="rows before the deep page")
    parser.add_argument("--only", action="append", default=[],
                        help="endpoints whose name contains this (repeatable); 'none' skips reads")
    parser.add_argument("--no-writes", action="store_true", help="skip the write path")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgres"):
        parser.error("--database-url must name the loaded PostgreSQL database")
    database_url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    sys.path.insert(0, ROOT)
    workdir = tempfile.mkdtemp(prefix="bench-inprocess-")
    redis, redis_url = start_redis(workdir)
    try:
        portal, baseline = build_apps(database_url, redis_url)
        portal_client, baseline_client = portal.test_client(), baseline.test_client()
        landlord = login(portal_client, "landlord")
        print(f"per-request CPU in one process (best of {args.repeat} × {args.requests}):",
              flush=True)
        reads = read_rows(portal_client, baseline_client, landlord, args) \
            if "none" not in args.only else []
        writes = [] if args.no_writes else write_rows(portal, portal_client, args)
        print()
        if reads:
            print("| endpoint | portal µs | baseline µs | ratio |\n|---|--:|--:|--:|")
            for name, mine, theirs in reads:
                print(f"| `{name}` | {mine:,.0f} | {theirs:,.0f} | {theirs / mine:.2f} |")
        if writes:
            print("\n| write path | CPU µs |\n|---|--:|")
            for name, cost in writes:
                print(f"| {name} | {cost:,.0f} |")
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
