"""Who the clients are in each scenario, which events are fired, and how deliveries are scored."""
from collections import Counter

# scenario → (client mix, event kinds fired in turn)
#   broadcast: every client may see a ticket created by the first tenant (its landlord, its
#              tenancy, OPS), so each ticket.created reaches everyone connected.
#   targeted:  the first --audience clients are the second landlord's and tenancy's users, the
#              rest the other four; invoice.created by landlord2 reaches exactly the first group.
#   mixed:     all six users evenly; tickets and invoices alternate (a leak check at any N).
#   idle:      the broadcast mix, no events: memory per held connection.
#   storm:     the broadcast mix reads a few events, then every client drops its connection at
#              once and reconnects with Last-Event-ID; events fired during and after the storm
#              must all arrive (replayed or live), none twice.
SCENARIOS = {
    "broadcast": (("ops", "landlord", "tenant"), ("ticket.created",)),
    "targeted": (None, ("invoice.created",)),
    "mixed": (("landlord", "landlord2", "tenant", "tenant2", "contractor", "ops"),
              ("ticket.created", "invoice.created")),
    "idle": (("ops", "landlord", "tenant"), ()),
    "storm": (("ops", "landlord", "tenant"), ("ticket.created",)),
}
TARGETED_IN = ("landlord2", "tenant2")
TARGETED_OUT = ("landlord", "tenant", "contractor", "ops")


def client_users(scenario, n, audience_size) -> list:
    """The demo user each client idx logs in as."""
    if scenario == "targeted":
        inside = min(audience_size, n)
        return [TARGETED_IN[i % 2] for i in range(inside)] + \
               [TARGETED_OUT[i % 4] for i in range(n - inside)]
    mix = SCENARIOS[scenario][0]
    return [mix[i % len(mix)] for i in range(n)]


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, int(round(q / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[rank]


def score(fired, records, client_keys, opened, wall_offset=None) -> dict:
    """Latency, missing, leaked and duplicate deliveries.

    fired: resource id → (kind, t_request, t_response, audience keys);
    records: (client idx, kind, resource id, read time) as the clients read them;
    client_keys: idx → the audience keys of the client's user; opened: idxs whose stream opened.
    wall_offset: time.time() - time.monotonic(); with the XADD time in a stream entry id it splits
    the latency into API response → XADD (the pipeline) and XADD → read (the fan-out).
    """
    xadd = {}
    fanout = []
    seen = set()
    latencies, e2e, leaked, dups, foreign = [], [], 0, 0, 0
    per_event = {rid: [] for rid in fired}
    for idx, _kind, rid, t_read, entry_ms in records:
        event = fired.get(rid)
        if event is None:
            foreign += 1
            continue
        if not (client_keys[idx] & event[3]):
            leaked += 1
            continue
        if (idx, rid) in seen:
            dups += 1
            continue
        seen.add((idx, rid))
        latency = t_read - event[2]
        latencies.append(latency)
        e2e.append(t_read - event[1])
        if entry_ms is not None and wall_offset is not None:
            xadd.setdefault(rid, entry_ms / 1000.0 - (event[2] + wall_offset))
            fanout.append(t_read + wall_offset - entry_ms / 1000.0)
        per_event[rid].append(latency)
    match_count = Counter()
    for idx in opened:
        for rid, event in fired.items():
            if client_keys[idx] & event[3]:
                match_count[rid] += 1
    expected = sum(match_count.values())
    latencies.sort()
    e2e.sort()
    fanout.sort()
    pipeline = sorted(xadd.values())
    per_event_summary = []
    for rid, values in per_event.items():
        values.sort()
        per_event_summary.append({
            "kind": fired[rid][0], "n": len(values), "api_ms": _ms(fired[rid][2] - fired[rid][1]),
            "xadd_ms": _ms(xadd.get(rid)),
            "p50_ms": _ms(percentile(values, 50)), "max_ms": _ms(values[-1] if values else None)})
    worst_event_p99 = max((percentile(sorted(v), 99) or 0.0 for v in per_event.values()),
                          default=None)
    api_ms = sorted((e[2] - e[1]) * 1000 for e in fired.values())
    return {
        "events": len(fired), "expected": expected, "delivered": len(seen),
        "missing": expected - len(seen), "leaked": leaked, "duplicates": dups,
        "foreign": foreign,
        "audience_per_event": (expected / len(fired)) if fired else 0,
        "p50_ms": _ms(percentile(latencies, 50)), "p90_ms": _ms(percentile(latencies, 90)),
        "p99_ms": _ms(percentile(latencies, 99)), "max_ms": _ms(latencies[-1] if latencies else None),
        "min_ms": _ms(latencies[0] if latencies else None),
        # From the start of the API request: fair to a server that publishes inside the request.
        "e2e_p50_ms": _ms(percentile(e2e, 50)), "e2e_p99_ms": _ms(percentile(e2e, 99)),
        # Millisecond resolution (the entry id's clock): response → XADD, and XADD → read.
        "xadd_p50_ms": _ms(percentile(pipeline, 50)),
        "xadd_max_ms": _ms(pipeline[-1] if pipeline else None),
        "fanout_p50_ms": _ms(percentile(fanout, 50)), "fanout_p99_ms": _ms(percentile(fanout, 99)),
        "worst_event_p99_ms": _ms(worst_event_p99), "per_event": per_event_summary,
        "api_p50_ms": percentile(api_ms, 50), "api_max_ms": api_ms[-1] if api_ms else None,
    }


def expected_total(fired, client_keys, opened) -> int:
    """How many watched deliveries the clients should read in all."""
    return sum(1 for idx in opened for event in fired.values() if client_keys[idx] & event[3])


def _ms(value):
    return None if value is None else value * 1000.0
