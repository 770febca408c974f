"""Per-process counters of the event stream, rendered in the Prometheus text format."""
import bisect
import os
import threading

# Seconds from XADD (the entry id's timestamp) to the frame written to a client's socket.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

COUNTERS = {
    "events_read": ("portal_sse_events_read_total", "Stream entries read by this process's hub."),
    "events_delivered": ("portal_sse_events_delivered_total",
                         "Event frames written to clients (live and replayed)."),
    "events_direct": ("portal_sse_events_direct_total",
                      "Event frames the hub wrote straight to a parked stream's socket."),
    "events_replayed": ("portal_sse_events_replayed_total",
                        "Event frames written while replaying after Last-Event-ID."),
    "overflow_disconnects": ("portal_sse_overflow_disconnects_total",
                             "Streams closed because the client did not read fast enough."),
    "connections": ("portal_sse_connections_total", "Streams opened."),
    "rejected": ("portal_sse_rejected_total", "Streams refused over the per-user cap."),
    "resyncs": ("portal_sse_resyncs_total", "Reconnects told to resync (unknown or trimmed id)."),
    "revoked": ("portal_sse_revoked_total", "Streams closed because their session was revoked."),
    "expired": ("portal_sse_expired_total", "Streams ended because their token was expiring."),
    "hangups": ("portal_sse_hangups_total",
                "Parked streams ended as soon as their client hung up (not at a heartbeat)."),
}


class Metrics:
    """Counters and one lag histogram; cheap enough to update on every delivery."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero everything (tests)."""
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.lag_counts = [0] * (len(LAG_BUCKETS) + 1)
        self.lag_sum = 0.0

    def inc(self, name: str, amount: int = 1) -> None:
        """Add to a counter."""
        self.counters[name] += amount

    def observe_lag(self, lag: float, count: int = 1) -> None:
        """Record a publish-to-write lag in seconds, for ``count`` deliveries of one event."""
        with self._lock:
            self.lag_counts[bisect.bisect_left(LAG_BUCKETS, lag)] += count
            self.lag_sum += lag * count

    def render(self, connected: int) -> str:
        """This process's metrics in the Prometheus text exposition format."""
        label = f'{{pid="{os.getpid()}"}}'
        lines = ["# HELP portal_sse_connected_clients Event streams open in this process.",
                 "# TYPE portal_sse_connected_clients gauge",
                 f"portal_sse_connected_clients{label} {connected}"]
        for key, (name, help_text) in COUNTERS.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter",
                      f"{name}{label} {self.counters[key]}"]
        name = "portal_sse_publish_to_write_seconds"
        lines += [f"# HELP {name} Seconds from XADD to the frame written to the client (live).",
                  f"# TYPE {name} histogram"]
        with self._lock:
            cumulative = 0
            for bound, count in zip(LAG_BUCKETS + ("+Inf",), self.lag_counts):
                cumulative += count
                lines.append(f'{name}_bucket{{pid="{os.getpid()}",le="{bound}"}} {cumulative}')
            lines += [f"{name}_sum{label} {self.lag_sum:.6f}", f"{name}_count{label} {cumulative}"]
        return "\n".join(lines) + "\n"


metrics = Metrics()
