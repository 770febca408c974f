"""The bench's runs: servers and load generators set up once, then one fresh gunicorn per run."""
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from urllib.parse import quote

from bench import client, firer, proc, profile, report, servers
from bench.scenarios import SCENARIOS, client_users, expected_total, score


class Bench:
    """The servers, the load-generator processes and one method per measured run."""

    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="sse-bench-")
        self.managed = []
        self.clients = []
        self.redis = self.celery = None
        self.users = self.events_mode = self.property_id = None
        self.storming = False

    # -- set-up ---------------------------------------------------------------------------
    def setup(self):
        self.fd_limit = proc.raise_fd_limit(self.args.nofile)
        self.redis, self.redis_url = servers.start_redis(self.workdir)
        self.managed.append(self.redis)
        extra = dict(item.split("=", 1) for item in self.args.env)
        self.env = servers.base_env(self.workdir, self.redis_url,
                                    GUNICORN_WORKERS=self.args.workers,
                                    GUNICORN_WORKER_CONNECTIONS=self.args.worker_connections,
                                    BENCH_GC_LOG=os.path.join(self.workdir, "gc"), **extra)
        servers.prepare_database(self.env)
        self.celery = servers.start_celery(self.env, self.workdir)
        self.managed.append(self.celery)
        ctx = multiprocessing.get_context("spawn")
        for _ in range(self.args.procs):
            parent, child = ctx.Pipe()
            process = ctx.Process(target=client.run, args=(child,), daemon=True)
            process.start()
            self.clients.append((process, parent))
        setup = self._all("setup", [{"open_marker": b'"connected"',
                                      "source_addrs": self.args.source_addrs}] * len(self.clients))
        self.client_fd_limit = min(a["fd_limit"] for a in setup)
        self._login_and_probe()

    def _login_and_probe(self):
        web, port = self.start_web("portal")
        try:
            api = firer.Api(port)
            self.users = firer.login_all(api)
            self.property_id = firer.property_of(api, self.users["tenant"])
            tenant, landlord2 = self.users["tenant"].token, self.users["landlord2"].token
            has_tickets = firer.route_exists(api, "POST", "/api/tickets", tenant)
            has_invoices = firer.route_exists(api, "POST", "/api/finance/invoices", landlord2)
            self.has_stream = self._stream_exists(port, tenant)
        finally:
            web.stop()
        self.events_mode = "api" if (has_tickets and has_invoices) else "outbox"
        if self.args.fire != "auto":
            self.events_mode = self.args.fire
        self.api_routes = {"tickets": has_tickets, "invoices": has_invoices}
        report.note(f"portal routes: POST /api/tickets={has_tickets} "
                    f"POST /api/finance/invoices={has_invoices} GET /api/events={self.has_stream}; "
                    f"events fired via {self.events_mode}")

    def _stream_exists(self, port, token):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/api/events", headers={"Authorization": "Bearer " + token})
        resp = conn.getresponse()
        ok = resp.status == 200 and resp.getheader("Content-Type", "").startswith("text/event-stream")
        conn.close()
        return ok

    def start_web(self, target):
        nofile = self.args.nofile
        if target == "nchan":
            return servers.start_nchan(self.workdir, self.args.workers,
                                       self.args.nchan_worker_connections, nofile,
                                       reuseport=not self.args.nchan_no_reuseport)
        if target == "portal":
            config = None
            if not self.args.no_project_config:
                config = self.args.gunicorn_config or os.path.join(servers.ROOT, "gunicorn.conf.py")
                config = config if os.path.exists(config) else None
            return servers.start_gunicorn("portal", "wsgi:app", self.env, self.workdir,
                                          self.args.workers, self.args.worker_connections, config,
                                          nofile=nofile)
        return servers.start_gunicorn(target, "bench.baseline_server:app", self.env,
                                      self.workdir, self.args.workers,
                                      self.args.worker_connections, nofile=nofile)

    # -- talking to the load generators ---------------------------------------------------
    def _all(self, cmd, args_per_proc=None):
        for i, (_, conn) in enumerate(self.clients):
            conn.send((cmd, args_per_proc[i] if args_per_proc else None))
        answers = [conn.recv() for _, conn in self.clients]
        for answer in answers:
            if isinstance(answer, dict) and "error" in answer:
                raise RuntimeError(f"load generator: {answer['error']}")
        return answers

    def connect(self, port, names, watch, target="portal"):
        """Open one stream per client, spread round-robin over the processes."""
        p = len(self.clients)
        marker = b": hi" if target == "nchan" else b'"connected"'
        # In a storm a stream the server ends is reconnected as EventSource would (Last-Event-ID
        # after the retry delay); elsewhere a lost stream stays lost and is counted.
        self._all("setup", [{"open_marker": marker, "source_addrs": self.args.source_addrs,
                             "resume_lost": self.storming}] * p)
        per_proc = [{"host": "127.0.0.1", "port": port, "path": "/api/events",
                     "specs": [(i, self.users[names[i]].token, self._path(target, names[i]))
                               for i in range(k, len(names), p)],
                     "concurrency": self.args.concurrency, "timeout": 120.0,
                     "http10": self.args.http10, "watch": list(watch)} for k in range(p)]
        return self._all("connect", per_proc)

    def _path(self, target, name):
        """nchan: one EventSource stream multiplexed over the user's audience-key channels."""
        if target != "nchan":
            return "/api/events"
        return "/sub?ch=" + ",".join(quote(k, safe=":") for k in sorted(self.users[name].keys))

    # -- one run --------------------------------------------------------------------------
    def run(self, target, scenario, n):
        if target == "portal" and not self.has_stream:
            return {"target": target, "scenario": scenario, "n": n, "error": "no GET /api/events"}
        web, port = self.start_web(target)
        try:
            return self._measure(target, scenario, n, web, port)
        finally:
            self._all("close")
            web.stop()

    def _measure(self, target, scenario, n, web, port):
        args = self.args
        self.storming = scenario == "storm"
        workers = proc.children(web.pid)
        servers.warm_up(port, len(workers))
        kinds = SCENARIOS[scenario][1]
        # Warm each worker's stream path (hub start, imports), then let go of those streams.
        self.connect(port, ["ops"] * (8 * len(self.clients)), kinds, target)
        self._all("close")
        time.sleep(1.0)
        self._all("collect")
        rss0, redis0 = proc.total_rss_kb(workers), proc.rss_kb(self.redis.pid)
        names = client_users(scenario, n, args.audience)
        sampling = self._profile("connect", target, workers, n / 500 + 5)
        web_cpu0 = proc.total_cpu(workers)
        t0 = time.monotonic()
        answers = self.connect(port, names, kinds, target)
        web_cpu_connect = proc.total_cpu(workers) - web_cpu0
        self._profile_done(sampling, row_note=f"{target} {scenario} N={n} connect")
        failed = set(i for a in answers for i in a["failed"])
        opened = [i for i in range(n) if i not in failed]
        span = max(a["t_end"] for a in answers) - min(a["t_start"] for a in answers)
        open_times = sorted(t for a in answers for t in a["open_times"])
        row = {"target": target, "scenario": scenario, "n": n, "opened": len(opened),
               "connect_failed": len(failed), "connect_s": round(time.monotonic() - t0, 2),
               "connect_rate": len(opened) / span if span else None,
               "connect_p99_ms": 1000 * report.pct(open_times, 99) if open_times else None,
               "connect_errors": _merge(a["errors"] for a in answers),
               "connect_retries": sum(a["retries"] for a in answers),
               "connect_cpu_us": 1e6 * web_cpu_connect / max(1, len(opened)),
               "connect_refusals": _merge(a["refusals"] for a in answers)}
        time.sleep(args.settle)
        rss1, redis1 = proc.total_rss_kb(workers), proc.rss_kb(self.redis.pid)
        gc_connect = self._gc_stats(workers)
        row.update({
            "rss_before_mb": rss0 / 1024, "rss_after_mb": rss1 / 1024,
            "kb_per_conn": (rss1 - rss0) / len(opened) if opened else None,
            "redis_kb_per_conn": (redis1 - redis0) / len(opened) if opened else None,
            "per_worker_fds": [proc.fd_count(w) for w in workers],
            "worker_fd_limits": [proc.fd_limits(w)[0] for w in workers]})
        meter = proc.CpuMeter({"web": [web.pid] + workers,
                               "celery": [self.celery.pid] + proc.descendants(self.celery.pid),
                               "redis": [self.redis.pid],
                               "clients": [c.pid for c, _ in self.clients]})
        # idle: the CPU% columns are those of the hold (heartbeats only); else of the events.
        meter.start(time.monotonic())
        if scenario == "idle" and args.hold:
            time.sleep(args.hold)
            row["rss_after_hold_mb"] = proc.total_rss_kb(workers) / 1024
        else:
            meter.start(time.monotonic())
        sampling = self._profile("events", target, workers, args.events * args.interval + 1)
        if scenario == "storm":
            fired = self._storm(target, port, kinds, opened, names, workers, row)
        else:
            fired = self._fire(target, port, kinds, opened, names)
        # Over a few milliseconds (idle without --hold) /proc's 10 ms ticks say nothing.
        cpu = meter.stop(time.monotonic()) if time.monotonic() - meter.t0 >= 0.5 else None
        self._profile_done(sampling, row_note=f"{target} {scenario} N={n} events")
        collected = self._all("collect")
        records = [r for c in collected for r in c["records"]]
        keys = {i: self.users[name].keys for i, name in enumerate(names)}
        row.update(score(fired, records, keys, opened, time.time() - time.monotonic()))
        if row.get("missing"):
            row["missing_by_user"] = _missing_by_user(fired, records, keys, opened, names)
        row.update({"cpu_pct": {k: round(v) for k, v in cpu.items()} if cpu else None,
                    "lost_streams": sum(c["lost"] for c in collected),
                    "partial_frames": sum(c["partial"] for c in collected),
                    "partial_sample": next((c["partial_sample"] for c in collected
                                            if c["partial_sample"]), None),
                    "pings": sum(c["pings"] for c in collected),
                    "lost_reasons": _merge(c["lost_reasons"] for c in collected),
                    "lost_resumed": _merge(c["resumed"] for c in collected),
                    "other_events": _merge(c["other"] for c in collected),
                    "rss_after_events_mb": proc.total_rss_kb(workers) / 1024,
                    "web_alive": web.alive()})
        if row.get("lost_streams") or row.get("missing"):
            row["server_log"] = _log_warnings(web)
        if target == "portal":
            row["rest_probe"] = self._rest_probe(port)
        if gc_connect is not None:
            row["gc_after_connect"] = gc_connect
            row["gc_after_events"] = self._gc_stats(workers)
        return row

    def _gc_stats(self, workers):
        """What bench/gc_probe.py recorded in each worker (None without the probe)."""
        found = {}
        for pid in workers:
            path = os.path.join(self.workdir, f"gc-{pid}.json")
            if os.path.exists(path):
                with open(path) as fh:
                    found[pid] = json.load(fh)["stats"]
        return found or None

    def _profile(self, phase, target, workers, seconds):
        if self.args.profile != phase:
            return None
        return profile.start(workers, seconds, os.path.join(self.workdir, f"profile-{target}"))

    def _profile_done(self, sampling, row_note):
        if sampling:
            report.note(f"{row_note}\n" + profile.summarize(sampling))

    def _fire(self, target, port, kinds, opened, names):
        """Fire --events events at --interval; wait until every expected delivery was read."""
        args = self.args
        fired = {}
        if not kinds:
            return fired
        events = self._events(target, port)
        self._fire_some(events, kinds, args.events, args.interval, fired)
        self._drain(fired, names, opened)
        return fired

    def _events(self, target, port):
        mode = target if target.startswith("baseline") or target == "nchan" else self.events_mode
        events = firer.Events(firer.Api(port), self.users, mode, self.property_id,
                              redis_url=self.redis_url)
        if mode == "outbox":
            events.outbox_app = self._outbox_app()
        return events

    @staticmethod
    def _fire_some(events, kinds, count, interval, fired):
        start = time.monotonic()
        for i in range(count):
            kind = kinds[i % len(kinds)]
            rid, t_req, t_resp = events.fire(kind)
            fired[rid] = (kind, t_req, t_resp, events.audience(kind))
            next_at = start + (i + 1) * interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _drain(self, fired, names, opened):
        """Wait (at most --drain s) until every expected delivery was read."""
        args = self.args
        keys = {i: self.users[name].keys for i, name in enumerate(names)}
        want = expected_total(fired, keys, opened)
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline:
            if sum(a["records"] for a in self._all("count")) >= want:
                break
            time.sleep(0.25)

    def _storm(self, target, port, kinds, opened, names, workers, row):
        """Events, then every client drops and reconnects at once with its Last-Event-ID;
        events fired during the storm and after it must all still arrive."""
        args = self.args
        fired = {}
        events = self._events(target, port)
        # Before: every client reads some events, so each has an id to resume from.
        self._fire_some(events, kinds, args.storm_before, min(args.interval, 1.0), fired)
        self._drain(fired, names, opened)
        with_id = sum(a["with_last_id"] for a in self._all("count"))
        cpu0 = proc.total_cpu(workers)
        t0 = time.monotonic()
        for _, conn in self.clients:
            conn.send(("storm", {"concurrency": args.storm_concurrency, "timeout": 120.0}))
        # During: one event at once, then one every --storm-fire-every s until all are back.
        answers, during, next_fire = [None] * len(self.clients), 0, t0
        while any(a is None for a in answers):
            if time.monotonic() >= next_fire and during < args.storm_max_during:
                rid, t_req, t_resp = events.fire(kinds[during % len(kinds)])
                fired[rid] = (kinds[during % len(kinds)], t_req, t_resp,
                              events.audience(kinds[during % len(kinds)]))
                during += 1
                next_fire = time.monotonic() + args.storm_fire_every
            for i, (_, conn) in enumerate(self.clients):
                if answers[i] is None and conn.poll(0.01):
                    answers[i] = conn.recv()
                    if "error" in answers[i]:
                        raise RuntimeError(f"load generator: {answers[i]['error']}")
        t_back = max(a["t_end"] for a in answers)
        cpu = proc.total_cpu(workers) - cpu0
        reopened = sum(a["opened"] for a in answers)
        times = sorted(t for a in answers for t in a["open_times"])
        span = t_back - min(a["t_start"] for a in answers)
        row.update({
            "storm_dropped": sum(a["dropped"] for a in answers),
            "storm_with_last_id": sum(a["with_last_id"] for a in answers),
            "storm_with_id_before": with_id,
            "storm_reopened": reopened, "storm_failed": sum(len(a["failed"]) for a in answers),
            "storm_s": t_back - t0, "storm_rate": reopened / span if span else None,
            "storm_p50_ms": 1000 * report.pct(times, 50) if times else None,
            "storm_p99_ms": 1000 * report.pct(times, 99) if times else None,
            "storm_refused": _merge(a["refusals"] for a in answers),
            "storm_retries": sum(a["retries"] for a in answers),
            "storm_errors": _merge(a["errors"] for a in answers),
            "storm_cpu_us": 1e6 * cpu / max(1, reopened),
            "storm_events_before": args.storm_before, "storm_events_during": during,
            "storm_events_after": args.events})
        # After: the reconnected streams must carry on.
        self._fire_some(events, kinds, args.events, args.interval, fired)
        self._drain(fired, names, opened)
        return fired

    def _rest_probe(self, port):
        """While every stream is still open: a few GET /api/health and one POST /api/tickets,
        each on a new connection, timed (does the API still answer next to the streams?)."""
        health = []
        for _ in range(5):
            api = firer.Api(port)
            t0 = time.monotonic()
            try:
                status, _ = api.call("GET", "/api/health")
            except OSError as exc:
                status = type(exc).__name__
            health.append((status, 1000 * (time.monotonic() - t0)))
            api.conn.close()
        api = firer.Api(port)
        t0 = time.monotonic()
        try:
            status, _ = api.call("POST", "/api/tickets", {
                "propertyId": self.property_id, "title": "Bench probe",
                "description": "REST probe while the streams are held", "priority": "LOW"},
                self.users["tenant"].token)
        except OSError as exc:
            status = type(exc).__name__
        post = (status, 1000 * (time.monotonic() - t0))
        api.conn.close()
        return {"health": health, "post_ticket": post}

    def _outbox_app(self):
        for key in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX"):
            os.environ[key] = self.env[key]
        from portal import create_app
        return create_app("development")

    def teardown(self):
        for process, conn in self.clients:
            try:
                conn.send(("exit", None))
                conn.recv()
            except (OSError, EOFError):
                pass
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        for managed in reversed(self.managed):
            managed.stop()
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            report.note(f"logs kept in {self.workdir}")


def _merge(dicts) -> dict:
    out = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out




def _missing_by_user(fired, records, keys, opened, names) -> dict:
    """Missing deliveries by the demo user the client logged in as (where a gap is)."""
    got = {(idx, rid) for idx, _kind, rid, _t, _ms in records}
    out = {}
    for idx in opened:
        for rid, event in fired.items():
            if keys[idx] & event[3] and (idx, rid) not in got:
                out[names[idx]] = out.get(names[idx], 0) + 1
    return out


def _log_warnings(web, keep=12) -> list:
    """The server's last warnings and errors (what it said about streams it closed)."""
    path = getattr(web, "error_log", web.log_path)  # nginx writes its own error log
    try:
        with open(path, "rb") as fh:
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    picked = [line[:300] for line in lines
              if any(w in line for w in ("WARNING", "ERROR", "Error", "[error]", "[alert]",
                                         "[crit]", "Traceback"))]
    return picked[-keep:]
