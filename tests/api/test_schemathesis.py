"""Schemathesis sends what /api/openapi.json allows (and what it forbids) to every operation and
checks every answer against the description: no 500, documented statuses, headers and bodies,
requests that violate the description refused, requests that follow it not refused."""
import uuid
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from portal.auth.models import User
from portal.auth.tokens import issue_tokens
from portal.extensions import db

# The stream never ends by itself; its own tests cover it (tests/events, tests/integration).
SKIPPED = {"GET /api/events"}
EXAMPLES = 15


def _bearer(app, name):
    """A fresh session's token (a generated logout then revokes only that session)."""
    with app.app_context():
        user = db.session.execute(db.select(User).where(
            User.email == f"{name}@example.com")).scalar_one()
        token = issue_tokens(user)["access_token"]
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


def _total(lines) -> Decimal:
    return sum((Decimal(str(line["qty"])) * Decimal(str(line["unitPrice"]))
                * (1 + Decimal(str(line.get("taxRate", 0))) / 100) for line in lines), Decimal(0))


def _realistic(ids):
    """Valid requests name resources that exist, send no cursor (only the API makes them), use a
    new Idempotency-Key each, and keep the
    rules between fields that JSON Schema cannot state (an invoice is due on or after its issue
    date, a statement's period ends on or after its start; an invoice's total is between 0.01 and the largest amount; marking notifications read names
    some ids or all of them): else the API refuses a valid
    request for reasons no description can show."""
    def change(case):
        if case.headers and "Idempotency-Key" in case.headers:
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        if case.query:
            case.query.pop("cursor", None)
            if {"from", "to"} <= set(case.query):  # a statement's period runs forwards
                start, end = sorted((case.query["from"], case.query["to"]))
                case.query.update({"from": start, "to": end})
        if isinstance(case.body, dict):
            for key, value in ids.items():
                if key in case.body:
                    case.body[key] = value
            if {"issueDate", "dueDate"} <= set(case.body):
                issue, due = sorted((case.body["issueDate"], case.body["dueDate"]))
                case.body.update(issueDate=issue, dueDate=due)
            if case.operation.path == "/api/notifications/read" and not (
                    case.body.get("ids") or case.body.get("all")):
                case.body["all"] = True
            lines = case.body.get("lines")
            if lines and not Decimal("0.01") <= _total(lines) <= Decimal("9999999999.99"):
                case.body["lines"] = [{**lines[0], "qty": 1, "unitPrice": 12.5, "taxRate": 0}]
        return case
    return change


def _fuzz(app, operation, mode, role, ids):
    strategy = operation.as_strategy(generation_mode=mode)
    if mode == GenerationMode.POSITIVE:
        strategy = strategy.map(_realistic(ids))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=_bearer(app, role))
    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("role", ["landlord", "tenant"])
def test_every_operation_follows_the_description(app, demo, role, mode, celery_worker):
    # A real worker consumes meanwhile, so /api/health answers 200 as in production.
    ids = {"tenancyId": demo["ten1"], "propertyId": demo["prop1"], "contractorId": demo["ctr"]}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures, tried = {}, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue
        tried += 1
        try:
            _fuzz(app, operation, mode, role, ids)
        except Unsatisfiable:  # nothing can break this operation's description (no inputs)
            continue
        except Exception as exc:  # noqa: BLE001 - every operation's failure is reported at once
            failures[operation.label] = exc
    assert tried >= 20
    assert not failures, "\n\n".join(f"{label}:\n{exc}" for label, exc in failures.items())
