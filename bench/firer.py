"""Logging in as the demo users and firing events through the real API (or the baseline's publish).

Every fired event is timestamped with ``time.monotonic()`` right after its API response was read;
CLOCK_MONOTONIC is system-wide on Linux, so the client processes' read times compare directly.
"""
import http.client
import json
import time
from datetime import date, timedelta
from urllib.parse import quote

DEMO_USERS = ("landlord", "landlord2", "tenant", "tenant2", "contractor", "ops")
PASSWORD = "password123"


class Api:
    """A keep-alive JSON client for one server."""

    def __init__(self, port, host="127.0.0.1"):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=30)

    def call(self, method, path, body=None, token=None):
        return self.call_raw(method, path, json.dumps(body) if body is not None else None, token)

    def call_raw(self, method, path, payload=None, token=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = {"raw": raw[:200].decode(errors="replace")}
        return resp.status, data


class User:
    """A logged-in demo user: token and the audience keys the portal derives from it."""

    def __init__(self, name, token, info):
        self.name, self.token, self.info = name, token, info
        keys = {f"user:{info['id']}", f"role:{info['role']}"}
        for field, prefix in (("landlordId", "landlord"), ("tenantId", "tenant"),
                              ("contractorId", "contractor")):
            if info.get(field):
                keys.add(f"{prefix}:{info[field]}")
        self.keys = frozenset(keys)


def login_all(api) -> dict:
    """Log every demo user in; name → User."""
    users = {}
    for name in DEMO_USERS:
        status, data = api.call("POST", "/api/auth/login",
                                {"email": f"{name}@example.com", "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"login {name}: HTTP {status} {data}")
        users[name] = User(name, data["accessToken"], data["user"])
    return users


def property_of(api, tenant) -> str:
    """The property id of a tenant's tenancy (for POST /api/tickets)."""
    status, data = api.call("GET", "/api/tenancies", token=tenant.token)
    if status != 200 or not data.get("items"):
        raise RuntimeError(f"GET /api/tenancies: HTTP {status} {data}")
    return data["items"][0]["propertyId"]


def route_exists(api, method, path, token) -> bool:
    """True unless the route answers 404/405 to an empty body (422/400/201 mean it is there)."""
    status, _ = api.call(method, path, {}, token)
    return status not in (404, 405)


class Events:
    """Fires the two event kinds the scenarios use and knows each one's audience."""

    def __init__(self, api, users, mode, property_id=None, redis_url=None):
        # mode: api | outbox | baseline (POST /api/publish) | baseline-redis (PUBLISH directly)
        #       | nchan (POST to nchan's publisher location, one per audience channel)
        self.api, self.users, self.mode = api, users, mode
        if mode == "baseline-redis":
            import redis
            self.redis = redis.Redis.from_url(redis_url)
            self.redis.ping()  # connect now, not inside the first timed publish
        if mode in ("baseline-redis", "nchan"):
            # Imported now (Flask, PyJWT, redis-py: a quarter of a second), not inside the
            # first timed publish.
            from bench.baseline_server import build_message  # noqa: F401
        self.property_id = property_id
        self.seq = 0
        self.outbox_app = None

    def audience(self, kind):
        """The audience keys the portal computes for the events the harness fires."""
        u = self.users
        if kind == "ticket.created":   # by tenant (first landlord's property), no contractor yet
            return frozenset({f"landlord:{u['landlord'].info['landlordId']}",
                              f"tenant:{u['tenant'].info['tenantId']}", "role:OPS"})
        if kind == "invoice.created":  # by landlord2 for tenant2's tenancy
            return frozenset({f"landlord:{u['landlord2'].info['landlordId']}",
                              f"tenant:{u['tenant2'].info['tenantId']}"})
        raise ValueError(kind)

    def fire(self, kind) -> tuple:
        """Create one event; return (resource id, t_request, t_response)."""
        self.seq += 1
        t_req = time.monotonic()
        if self.mode in ("baseline", "baseline-redis", "nchan"):
            resource_id = self._baseline(kind)
        elif self.mode == "outbox":
            resource_id = self._outbox(kind)
        elif kind == "ticket.created":
            resource_id = self._expect(201, "POST", "/api/tickets", {
                "propertyId": self.property_id, "title": f"Bench leak {self.seq}",
                "description": "Dripping tap (benchmark)", "priority": "LOW"}, "tenant")
        else:
            today = date.today()
            resource_id = self._expect(201, "POST", "/api/finance/invoices", {
                "tenancyId": self.users["tenant2"].info["tenantId"],
                "issueDate": today.isoformat(), "dueDate": (today + timedelta(14)).isoformat(),
                "lines": [{"description": f"Rent (bench {self.seq})", "qty": 1,
                           "unitPrice": 1150.00, "taxRate": 0}]}, "landlord2")
        return resource_id, t_req, time.monotonic()

    def _expect(self, want, method, path, body, user):
        status, data = self.api.call(method, path, body, self.users[user].token)
        if status != want:
            raise RuntimeError(f"{method} {path}: HTTP {status} {data}")
        return data["id"]

    def _baseline(self, kind):
        actor = "tenant" if kind == "ticket.created" else "landlord2"
        info = self.users[actor].info
        tenant = self.users["tenant" if kind == "ticket.created" else "tenant2"].info
        body = {"type": kind, "resourceType": kind.split(".")[0], "actorRole": info["role"],
                "landlordId": self.audience_landlord(kind), "tenantId": tenant["tenantId"],
                "audience": sorted(self.audience(kind))}
        if self.mode == "baseline-redis":
            # Published from outside the web worker (as a Celery task would): the reply to the
            # last PUBLISH is the "API response"; no web worker holds it back while fanning out.
            from bench.baseline_server import PREFIX, build_message
            resource_id, message = build_message(body)
            for key in body["audience"]:
                self.redis.publish(PREFIX + key, message)
            return resource_id
        if self.mode == "nchan":
            # The same body the baseline's streams send as ``data:`` (its "type" and the
            # resource's "id" are what the clients look for); nchan adds its own ``id:`` line.
            from bench.baseline_server import build_message
            resource_id, message = build_message(body)
            payload = json.dumps(json.loads(message)["data"], separators=(",", ":"))
            for key in body["audience"]:
                status, data = self.api.call_raw("POST", "/pub?ch=" + quote(key, safe=":"),
                                                 payload)
                if status not in (200, 201, 202):
                    raise RuntimeError(f"nchan publish to {key}: HTTP {status} {data}")
            return resource_id
        return self._expect(201, "POST", "/api/publish", body, actor)

    def audience_landlord(self, kind):
        return next(k.split(":", 1)[1] for k in self.audience(kind) if k.startswith("landlord:"))

    def _outbox(self, kind):
        """No API yet: write the outbox row as a service would and commit (which enqueues it)."""
        from portal.auth.principal import Principal
        from portal.database import new_id
        from portal.events.outbox import record_event
        from portal.extensions import db

        actor = self.users["tenant" if kind == "ticket.created" else "landlord2"]
        tenant = self.users["tenant" if kind == "ticket.created" else "tenant2"].info["tenantId"]
        resource = {"type": kind.split(".")[0], "id": new_id("tkt" if kind[0] == "t" else "inv")}
        with self.outbox_app.app_context():
            record_event(kind, Principal.from_claims(
                {"sub": actor.info["id"], "role": actor.info["role"],
                 "landlordId": actor.info.get("landlordId"), "tenantId": actor.info.get("tenantId")}),
                landlord_id=self.audience_landlord(kind), tenant_id=tenant,
                resources=[resource], audience=sorted(self.audience(kind)), version=1)
            db.session.commit()
            db.session.remove()
        return resource["id"]
