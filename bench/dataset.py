"""Load the REST benchmark's dataset into a PostgreSQL database.

``python -m bench.dataset --database-url postgresql://postgres@127.0.0.1:5432/bench`` migrates
the database (``flask db upgrade heads``), seeds the demo users (``flask seed``), then bulk-loads
with ``INSERT … SELECT generate_series`` (a few seconds of server-side work, no Python loops):

- 100 landlords (the two demo ones and 98 more), 20,000 tenancies and properties (200 each),
  a landlord user per landlord and a tenant user per tenancy, 10 contractor firms;
- 200,000 tickets, 20,000 of them the demo landlord's (``landlord@example.com``), with weighted
  statuses and priorities and ``created_at`` spread over the past year;
- 1,000,000 timeline rows (one per ticket version, 1–9 versions, 5 on average);
- 500,000 notifications (5,000 the demo landlord's, a third unread);
- 50,000 invoices, 24,000 of them the demo landlord's.

Then ``VACUUM ANALYZE`` (statistics for the planner, and the visibility map for index-only
scans). The random values come from ``setseed`` so two loads are the same shape. A database that
already holds the bench rows is left as it is.
"""
import argparse
import os
import sys
import tempfile
import time

import psycopg

from bench.servers import prepare_database

LANDLORDS = 100
TENANCIES_PER_LANDLORD = 200
FIRMS = 10
TICKETS = 200_000
DEMO_TICKETS = 20_000
NOTIFICATIONS = 500_000
DEMO_NOTIFICATIONS = 5_000
INVOICES = 50_000
DEMO_INVOICES = 24_000

# A random timestamp in the past year, at the millisecond precision the portal stores.
_WHEN = "date_trunc('milliseconds', now() at time zone 'utc' - random() * interval '365 days')"

# The organisations: bench_landlords maps 1..100 to landlord ids (1 and 2 are the demo ones),
# bench_tenancies maps (landlord_idx, k) to a tenancy and its property.
ORGANISATIONS = f"""
CREATE TABLE bench_landlords (idx int PRIMARY KEY, id varchar(40) NOT NULL);
INSERT INTO bench_landlords
  SELECT 1, landlord_id FROM users WHERE email = 'landlord@example.com'
  UNION ALL SELECT 2, landlord_id FROM users WHERE email = 'landlord2@example.com';
INSERT INTO landlords (id, name, created_at, updated_at)
  SELECT 'll_bench' || lpad(i::text, 16, '0'), 'Bench Landlord ' || i, now(), now()
  FROM generate_series(3, {LANDLORDS}) i;
INSERT INTO bench_landlords
  SELECT i, 'll_bench' || lpad(i::text, 16, '0') FROM generate_series(3, {LANDLORDS}) i;

CREATE TABLE bench_tenancies (landlord_idx int, k int, id varchar(40), property_id varchar(40),
                              PRIMARY KEY (landlord_idx, k));
INSERT INTO bench_tenancies
  SELECT l.idx, k, 'ten_bench' || lpad((l.idx * 1000 + k)::text, 15, '0'),
         'prop_bench' || lpad((l.idx * 1000 + k)::text, 14, '0')
  FROM bench_landlords l, generate_series(1, {TENANCIES_PER_LANDLORD}) k;
INSERT INTO properties (id, landlord_id, name, address, created_at, updated_at)
  SELECT t.property_id, l.id, k || ' Bench Street', k || ' Bench Street, Town ' || l.idx,
         now(), now()
  FROM bench_tenancies t JOIN bench_landlords l ON l.idx = t.landlord_idx;
INSERT INTO tenancies (id, landlord_id, property_id, start_date, end_date, monthly_rent,
                       created_at, updated_at)
  SELECT t.id, l.id, t.property_id, date '2025-01-01', NULL, 900 + (k % 50) * 20, now(), now()
  FROM bench_tenancies t JOIN bench_landlords l ON l.idx = t.landlord_idx;

INSERT INTO contractors (id, name, trade, created_at, updated_at)
  SELECT 'ctr_bench' || lpad(i::text, 15, '0'), 'Bench Firm ' || i,
         (ARRAY['plumbing','electrical','roofing','general'])[1 + i % 4], now(), now()
  FROM generate_series(1, {FIRMS - 1}) i;
CREATE TABLE bench_firms (idx int PRIMARY KEY, id varchar(40));
INSERT INTO bench_firms SELECT 0, id FROM contractors WHERE name = 'FixIt Plumbing & Repairs';
INSERT INTO bench_firms
  SELECT i, 'ctr_bench' || lpad(i::text, 15, '0') FROM generate_series(1, {FIRMS - 1}) i;

-- Users share the demo users' password hash (password123).
INSERT INTO users (id, email, name, role, password_hash, landlord_id, created_at, updated_at)
  SELECT 'usr_benchl' || lpad(l.idx::text, 14, '0'), 'landlord' || l.idx || '@bench.example',
         'Bench Landlord User ' || l.idx, 'LANDLORD',
         (SELECT password_hash FROM users WHERE email = 'landlord@example.com'), l.id, now(), now()
  FROM bench_landlords l WHERE l.idx > 2;
INSERT INTO users (id, email, name, role, password_hash, tenant_id, created_at, updated_at)
  SELECT 'usr_bencht' || lpad((t.landlord_idx * 1000 + t.k)::text, 14, '0'),
         'tenant' || t.landlord_idx || '-' || t.k || '@bench.example',
         'Bench Tenant ' || t.landlord_idx || '-' || t.k, 'TENANT',
         (SELECT password_hash FROM users WHERE email = 'tenant@example.com'), t.id, now(), now()
  FROM bench_tenancies t;
"""

# Ticket n belongs to landlord 1 for n <= DEMO_TICKETS, else to one of landlords 2..100.
TICKETS_SQL = f"""
CREATE TABLE bench_ticket_plan AS
  SELECT n, CASE WHEN n <= {DEMO_TICKETS} THEN 1 ELSE 2 + n % {LANDLORDS - 1} END AS landlord_idx,
         1 + (n * 7919) % {TENANCIES_PER_LANDLORD} AS k, random() AS r, random() AS r2,
         1 + (n * 31) % 9 AS version, {_WHEN} AS created_at
  FROM generate_series(1, {TICKETS}) n;
INSERT INTO tickets (id, landlord_id, tenant_id, property_id, contractor_id, title, category,
                     description, priority, status, quote_amount, quote_notes,
                     quote_submitted_at, version, created_at, updated_at, due_at)
  SELECT 'tkt_' || substr(md5('ticket' || p.n), 1, 24), l.id, t.id, t.property_id,
         CASE WHEN s.status IN ('OPEN', 'CANCELLED') THEN NULL ELSE f.id END,
         (ARRAY['Leaking tap', 'Boiler not heating', 'Broken window latch', 'Damp in bedroom',
                'Front door lock sticks', 'No hot water', 'Blocked drain',
                'Socket sparks'])[1 + p.n % 8] || ' #' || p.n,
         (ARRAY['plumbing', 'heating', 'windows', 'damp', 'security', 'electrical'])[1 + p.n % 6],
         'Reported by the tenant; access in the mornings. Reference ' || p.n || '.',
         CASE WHEN p.r2 < 0.35 THEN 'LOW' WHEN p.r2 < 0.75 THEN 'MEDIUM'
              WHEN p.r2 < 0.95 THEN 'HIGH' ELSE 'URGENT' END,
         s.status,
         CASE WHEN s.quoted THEN 80 + (p.n % 40) * 12.5 END,
         CASE WHEN s.quoted THEN 'Parts and two hours of labour.' END,
         CASE WHEN s.quoted THEN p.created_at + interval '2 days' END,
         p.version, p.created_at, p.created_at + interval '3 days',
         p.created_at + CASE WHEN p.r2 < 0.35 THEN interval '14 days'
                             WHEN p.r2 < 0.75 THEN interval '7 days'
                             WHEN p.r2 < 0.95 THEN interval '72 hours' ELSE interval '24 hours' END
  FROM bench_ticket_plan p
  JOIN bench_landlords l ON l.idx = p.landlord_idx
  JOIN bench_tenancies t ON t.landlord_idx = p.landlord_idx AND t.k = p.k
  JOIN bench_firms f ON f.idx = p.n % {FIRMS}
  CROSS JOIN LATERAL (SELECT st AS status, st NOT IN ('OPEN', 'TRIAGED', 'CANCELLED') AS quoted
    FROM (SELECT CASE WHEN p.r < 0.15 THEN 'OPEN' WHEN p.r < 0.25 THEN 'TRIAGED'
                      WHEN p.r < 0.33 THEN 'QUOTED' WHEN p.r < 0.40 THEN 'APPROVED'
                      WHEN p.r < 0.55 THEN 'IN_PROGRESS' WHEN p.r < 0.80 THEN 'COMPLETED'
                      WHEN p.r < 0.95 THEN 'AUDITED' ELSE 'CANCELLED' END AS st) x) s;
"""

# One entry per version of each ticket, an hour apart, by the tenant (v1) or the landlord.
TIMELINE_SQL = f"""
INSERT INTO ticket_timeline (id, ticket_id, ticket_version, event_type, actor_id, details,
                             created_at)
  SELECT 'tl_' || substr(md5('tl' || p.n || '-' || v), 1, 24),
         'tkt_' || substr(md5('ticket' || p.n), 1, 24), v,
         CASE WHEN v = 1 THEN 'created' WHEN v = 2 THEN 'assigned' ELSE 'status_changed' END,
         NULL,
         CASE WHEN v = 1 THEN '{{"to": "OPEN"}}' ELSE '{{"from": "TRIAGED", "to": "QUOTED"}}' END,
         p.created_at + (v - 1) * interval '1 hour'
  FROM bench_ticket_plan p, generate_series(1, p.version) v;
"""

NOTIFICATIONS_SQL = f"""
CREATE TABLE bench_users AS
  SELECT row_number() OVER (ORDER BY id) AS idx, id FROM users
  WHERE email NOT IN ('landlord@example.com');
INSERT INTO notifications (id, user_id, event_id, type, title, body, resource_type,
                           resource_id, read_at, created_at)
  SELECT 'ntf_' || substr(md5('ntf' || n), 1, 24),
         CASE WHEN n <= {DEMO_NOTIFICATIONS}
              THEN (SELECT id FROM users WHERE email = 'landlord@example.com')
              ELSE u.id END,
         'evt_' || substr(md5('evt' || n), 1, 24),
         'ticket.created', 'New ticket', 'A tenant reported a problem: Leaking tap #' || n,
         'ticket', 'tkt_' || substr(md5('ticket' || (1 + n % {TICKETS})), 1, 24),
         CASE WHEN n % 3 = 0 THEN NULL ELSE now() at time zone 'utc' END, {_WHEN}
  FROM generate_series(1, {NOTIFICATIONS}) n
  LEFT JOIN bench_users u ON u.idx = 1 + n % (SELECT count(*) FROM bench_users);
"""

INVOICES_SQL = f"""
INSERT INTO invoices (id, landlord_id, tenancy_id, number, issue_date, due_date, currency, amount,
                      amount_paid, status, version, created_by, voided_at, created_at, updated_at)
  SELECT 'inv_' || substr(md5('inv' || q.n), 1, 24), l.id, t.id, 'B-' || lpad(q.n::text, 8, '0'),
         q.created_at::date, q.created_at::date + 14, 'GBP', 1000 + (q.n % 50) * 10,
         CASE q.status WHEN 'PAID' THEN 1000 + (q.n % 50) * 10 WHEN 'PARTIALLY_PAID' THEN 500
                       ELSE 0 END,
         q.status, 1, NULL, CASE WHEN q.status = 'VOID' THEN q.created_at + interval '1 day' END,
         q.created_at, q.created_at
  FROM (SELECT n, CASE WHEN n <= {DEMO_INVOICES} THEN 1 ELSE 2 + n % {LANDLORDS - 1} END AS li,
               1 + (n::bigint * 104729) % {TENANCIES_PER_LANDLORD} AS k, {_WHEN} AS created_at,
               (ARRAY['PAID', 'PAID', 'PAID', 'SENT', 'SENT', 'OVERDUE', 'PARTIALLY_PAID',
                      'VOID'])[1 + n % 8] AS status
        FROM generate_series(1, {INVOICES}) n) q
  JOIN bench_landlords l ON l.idx = q.li
  JOIN bench_tenancies t ON t.landlord_idx = q.li AND t.k = q.k;
INSERT INTO invoice_lines (id, invoice_id, position, description, qty, unit_price, tax_rate,
                           amount)
  SELECT 'invl_' || substr(md5('invl' || id), 1, 24), id, 1, 'Rent', 1, amount, 0, amount
  FROM invoices WHERE id LIKE 'inv_%' AND number LIKE 'B-%';
"""

CLEANUP_SQL = """
DROP TABLE bench_ticket_plan; DROP TABLE bench_users; DROP TABLE bench_firms;
DROP TABLE bench_tenancies; DROP TABLE bench_landlords;
"""

STEPS = (("organisations", ORGANISATIONS), ("tickets", TICKETS_SQL),
         ("timeline", TIMELINE_SQL), ("notifications", NOTIFICATIONS_SQL),
         ("invoices", INVOICES_SQL), ("cleanup", CLEANUP_SQL))

COUNTS = ("landlords", "tenancies", "users", "tickets", "ticket_timeline", "notifications",
          "invoices")


BULK_TABLES = ("tickets", "ticket_timeline", "notifications", "invoices", "invoice_lines")


def secondary_indexes(conn, tables) -> list:
    """(name, CREATE INDEX …) of the tables' indexes that back no constraint."""
    return conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public'"
        " AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
        " WHERE c.conname = i.indexname)", (list(tables),)).fetchall()


def libpq_url(url: str) -> str:
    """The URL psycopg takes (SQLAlchemy's ``postgresql+psycopg://`` without the driver)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def summary(conn) -> dict:
    """Row counts of the loaded tables, and what the demo landlord owns."""
    out = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
           for table in COUNTS}
    demo = conn.execute("SELECT landlord_id FROM users WHERE email = 'landlord@example.com'"
                        ).fetchone()[0]
    out["demo landlord tickets"] = conn.execute(
        "SELECT count(*) FROM tickets WHERE landlord_id = %s", (demo,)).fetchone()[0]
    out["demo landlord invoices"] = conn.execute(
        "SELECT count(*) FROM invoices WHERE landlord_id = %s", (demo,)).fetchone()[0]
    return out


def load(url: str, log=print) -> dict:
    """Migrate, seed and bulk-load ``url`` (unless it is loaded already); return the counts."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        env = {**os.environ, "PORTAL_ENV": "development", "FLASK_APP": "wsgi.py",
               "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1/0"}
        prepare_database(env)
    log(f"migrated and seeded in {time.monotonic() - started:.1f} s")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM landlords WHERE id LIKE 'll_bench%' LIMIT 1").fetchone():
            log("the bench rows are loaded already; nothing to do")
            return summary(conn)
        with conn.transaction():
            conn.execute("SELECT setseed(0.13)")
            # The rows are consistent by construction: skip the per-row foreign-key triggers,
            # and build the secondary indexes once at the end instead of row by row.
            conn.execute("SET LOCAL session_replication_role = replica")
            indexes = secondary_indexes(conn, BULK_TABLES)
            for name, _definition in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            for name, sql in STEPS:
                t0 = time.monotonic()
                conn.execute(sql)
                log(f"  {name:<14} {time.monotonic() - t0:6.1f} s")
            t0 = time.monotonic()
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for _name, definition in indexes:
                conn.execute(definition)
            log(f"  {'indexes':<14} {time.monotonic() - t0:6.1f} s ({len(indexes)})")
        t0 = time.monotonic()
        conn.execute("VACUUM ANALYZE")
        log(f"  {'vacuum analyze':<14} {time.monotonic() - t0:6.1f} s")
        counts = summary(conn)
    log(f"loaded in {time.monotonic() - started:.1f} s")
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="postgresql://… (default: $BENCH_DATABASE_URL)")
    args = parser.parse_args(argv)
    if not args.database_url or not libpq_url(args.database_url).startswith("postgres"):
        parser.error("--database-url postgresql://… is required (the loader uses PostgreSQL)")
    counts = load(args.database_url)
    for name, value in counts.items():
        print(f"  {name:<24} {value:>9,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
