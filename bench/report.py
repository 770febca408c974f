"""Printing: progress lines on stderr, the result table and the portal/baseline ratios on stdout."""
import os
import platform
import sys
import time

from bench.scenarios import percentile as pct  # noqa: F401  (re-exported for the runner)

COLUMNS = (  # (header, key, format)
    ("target", "target", "{}"), ("scenario", "scenario", "{}"), ("N", "n", "{}"),
    ("open", "opened", "{}"), ("conn/s", "connect_rate", "{:.0f}"),
    ("conn µs", "connect_cpu_us", "{:.0f}"),
    ("KB/conn", "kb_per_conn", "{:.1f}"), ("redisKB/c", "redis_kb_per_conn", "{:.1f}"),
    ("aud/evt", "audience_per_event", "{:.0f}"), ("p50 ms", "p50_ms", "{:.0f}"),
    ("p99 ms", "p99_ms", "{:.0f}"), ("max ms", "max_ms", "{:.0f}"),
    ("req p50", "e2e_p50_ms", "{:.0f}"), ("req p99", "e2e_p99_ms", "{:.0f}"),
    ("→xadd p50", "xadd_p50_ms", "{:.0f}"), ("fanout p99", "fanout_p99_ms", "{:.0f}"),
    ("missing", "missing", "{}"), ("leaked", "leaked", "{}"), ("dup", "duplicates", "{}"),
    ("lost", "lost_streams", "{}"), ("web CPU%", "cpu_web", "{}"), ("all CPU%", "cpu_all", "{}"),
)


def note(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def header(args, bench):
    """The machine and the settings, once per report."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    print("# command: python -m bench.sse_load " + " ".join(sys.argv[1:]))
    print(f"# machine: {os.cpu_count()} cores ({cpu}), {mem // 1024} MiB, "
          f"Linux {platform.release()}, Python {platform.python_version()}")
    print(f"# gunicorn -k gevent, {args.workers} workers, worker_connections "
          f"{args.worker_connections}; {args.procs} load-generator processes; "
          f"{args.events} events every {args.interval}s; events via {bench.events_mode}")
    print(f"# open-file limit: bench {bench.fd_limit}, load generators {bench.client_fd_limit}, "
          f"servers asked for {args.nofile}:{args.nofile}"
          + ("" if bench.fd_limit >= args.nofile else
             " (the hard limit could not be raised here: no CAP_SYS_RESOURCE; a server gets "
             "its inherited hard limit)"))
    low, high = ephemeral_ports()
    addrs = args.source_addrs or ["127.0.0.1 (kernel's choice)"]
    print(f"# ephemeral ports {low}-{high} ({high - low + 1} per source address); clients bind "
          f"round-robin to {len(addrs)} address(es): {addrs[0]}…{addrs[-1]}")
    sys.stdout.flush()


def ephemeral_ports():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
        low, high = (int(x) for x in fh.read().split())
    return low, high


def _cells(row):
    flat = dict(row)
    cpu = row.get("cpu_pct") or {}
    flat["cpu_web"] = cpu.get("web")
    flat["cpu_all"] = sum(cpu.values()) if cpu else None
    out = []
    for _, key, fmt in COLUMNS:
        value = flat.get(key)
        out.append("-" if value is None else fmt.format(value))
    return out


def progress(row):
    if "error" in row:
        note(f"  {row['target']} {row['scenario']} N={row['n']}: {row['error']}")
        return
    note("  " + " ".join(f"{h}={c}" for (h, _, _), c in zip(COLUMNS, _cells(row))))
    note(f"  connect: {row.get('connect_s')} s, web CPU {row.get('connect_cpu_us', 0):.0f} µs/stream,"
         f" p99 open {row.get('connect_p99_ms') or 0:.0f} ms, streams per worker (fds)"
         f" {row.get('per_worker_fds')} (limits {row.get('worker_fd_limits')}), RSS {row.get('rss_before_mb', 0):.0f} ->"
         f" {row.get('rss_after_mb', 0):.0f} -> {row.get('rss_after_events_mb', 0):.0f} MB,"
         f" pings {row.get('pings')}, other events {row.get('other_events')}")
    for phase in ("gc_after_connect", "gc_after_events"):
        for pid, stats in (row.get(phase) or {}).items():
            note(f"  {phase} worker {pid}: " + ", ".join(
                f"gen{g} {s['count']}x total {s['total_ms']:.0f} ms (cpu {s.get('cpu_ms', 0):.0f})"
                f" max {s['max_ms']:.1f} ms"
                for g, s in stats.items()))
    for i, event in enumerate(row.get("per_event") or ()):
        note(f"    event {i}: " + " ".join(
            f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in event.items()))
    if "storm_s" in row:
        note("  " + storm_line(row))
    if row.get("rest_probe"):
        note("  " + rest_line(row))
    if row.get("partial_frames"):
        note(f"  streams holding an unfinished frame at the end: {row['partial_frames']}, "
             f"e.g. {row.get('partial_sample')}")
    for line in row.get("server_log") or ():
        note(f"  server log: {line}")
    if row.get("missing_by_user"):
        note(f"  missing by user: {row['missing_by_user']}")
    if row.get("connect_refusals"):
        note(f"  connect refusals (HTTP status: count, retried): {row['connect_refusals']}")
    if row.get("connect_errors"):
        note(f"  connect errors: {row['connect_errors']}")
    if row.get("lost_reasons"):
        note(f"  streams lost: {row['lost_reasons']}"
             + (f"; reconnected with Last-Event-ID: {row['lost_resumed']}"
                if row.get("lost_resumed") else ""))


def storm_line(row):
    return (f"storm: {row['storm_dropped']} dropped ({row['storm_with_last_id']} with a "
            f"Last-Event-ID), {row['storm_reopened']} open again in {row['storm_s']:.2f} s "
            f"({row['storm_rate'] or 0:.0f}/s, p50 {row['storm_p50_ms'] or 0:.0f} ms, p99 "
            f"{row['storm_p99_ms'] or 0:.0f} ms per stream), never reopened "
            f"{row['storm_failed']}, refused answers {row['storm_refused'] or 0} (retried "
            f"{row['storm_retries']}), web CPU {row['storm_cpu_us']:.0f} µs/reconnect; events "
            f"{row['storm_events_before']} before, {row['storm_events_during']} during, "
            f"{row['storm_events_after']} after: missing {row.get('missing')}, dup "
            f"{row.get('duplicates')}, streams the server closed afterwards "
            f"{row.get('lost_streams')} (reconnected {row.get('lost_resumed') or {}})" + (f"; errors {row['storm_errors']}"
                                          if row.get("storm_errors") else ""))


def rest_line(row):
    probe = row["rest_probe"]
    health = ", ".join(f"{ms:.0f}" + ("" if status == 200 else f" (HTTP {status})")
                       for status, ms in probe["health"])
    status, ms = probe["post_ticket"]
    return (f"REST with {row['opened']} streams open: GET /api/health {health} ms; "
            f"POST /api/tickets {ms:.0f} ms (HTTP {status})")


def table(rows):
    """A Markdown table of every run, then the ratio rows."""
    for r in rows:
        if "error" in r:
            print(f"- {r['target']} {r['scenario']} N={r['n']} did not complete: {r['error']}")
    rows = [r for r in rows if "error" not in r]
    if not rows:
        print("no completed runs")
        return
    cells = [_cells(r) for r in rows]
    heads = [h for h, _, _ in COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    print("| " + " | ".join(h.rjust(w) for h, w in zip(heads, widths)) + " |")
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for c in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(c, widths)) + " |")
    storms = [r for r in rows if "storm_s" in r]
    if storms:
        print()
        print("reconnect storms (every stream dropped at once, reconnected with Last-Event-ID):")
        for r in storms:
            print(f"  {r['target']} N={r['n']}: " + storm_line(r))
    probes = [r for r in rows if r.get("rest_probe")]
    if probes:
        print()
        for r in probes:
            print(f"  {r['target']} {r['scenario']} N={r['n']}: " + rest_line(r))
    ratios = []
    for row in rows:
        if row["target"] != "portal":
            continue
        for base in rows:
            if base["target"] != "portal" and base["scenario"] == row["scenario"] \
                    and base["n"] == row["n"]:
                ratios.append((row, base))
    if ratios:
        print()
        print("portal / other target (same run; < 1 means the portal is better):")
        for row, base in ratios:
            parts = []
            for label, key in (("p50", "p50_ms"), ("p99", "p99_ms"), ("max", "max_ms"),
                               ("req p99", "e2e_p99_ms"), ("KB/conn", "kb_per_conn"),
                               ("conn µs", "connect_cpu_us"), ("conn/s", "connect_rate"),
                               ("storm s", "storm_s"), ("storm µs", "storm_cpu_us")):
                if row.get(key) is not None and base.get(key):
                    parts.append(f"{label} {row[key] / base[key]:.2f}")
            if base.get("connect_failed") or base.get("missing"):
                parts.append(f"{base['target']}: {base.get('connect_failed', 0)} connects failed, "
                             f"{base.get('missing', 0)} deliveries missing")
            print(f"  vs {base['target']}, {row['scenario']} N={row['n']}: " + ", ".join(parts))
    sys.stdout.flush()
