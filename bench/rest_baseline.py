"""The REST baseline: bare Flask + Flask-SQLAlchemy answering the benchmarked GETs with the same SQL.

Served by gunicorn with gevent workers exactly like the portal (``bench.rest_baseline:app``). It
verifies the portal's access tokens with PyJWT (same secret, signature and expiry) and runs the
statements the portal's services run, with the same pool settings; there is nothing else: no
revocation check, no rate limiter, no schema layer, no error machinery. The cursor is the
portal's (base64url of ``[createdAt, id]``), so both servers can be sent the same deep page.
"""
import base64
import json
import os
from datetime import datetime, timezone

import jwt as pyjwt
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

SECRET = os.environ.get("JWT_SECRET_KEY", "dev-jwt-secret-change-me-0123456789abcdef")
URL = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = URL
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
    "pool_size": int(os.environ.get("DB_POOL_SIZE", "20")), "max_overflow": 0, "pool_timeout": 10}
db = SQLAlchemy(app)

TICKET_COLUMNS = ("id, landlord_id, tenant_id, property_id, contractor_id, title, category, "
                  "description, priority, status, quote_amount, quote_notes, quote_submitted_at, "
                  "version, due_at, created_at, updated_at")
# The statuses in which a ticket is never overdue (the portal's tickets/state.py FINISHED).
FINISHED = ("COMPLETED", "AUDITED", "CANCELLED")
INVOICE_COLUMNS = ("id, landlord_id, tenancy_id, number, issue_date, due_date, currency, amount, "
                   "amount_paid, status, created_at")


def iso(value):
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds") + "Z"


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def claims():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        return pyjwt.decode(header[7:], SECRET, algorithms=["HS256"])
    except pyjwt.PyJWTError:
        return None


def unauthorized():
    return jsonify({"error": {"code": "unauthorized", "message": "A valid token is required."}}), 401


def cursor_args(limit_default=20):
    limit = min(int(request.args.get("limit", limit_default)), 100)
    cursor = request.args.get("cursor")
    if not cursor:
        return limit, None
    stamp, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return limit, (datetime.fromisoformat(stamp.rstrip("Z")), row_id)


def encode_cursor(created_at, row_id):
    raw = json.dumps([iso(created_at), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page(table, columns, owner_column, owner, limit, after):
    sql = f"SELECT {columns} FROM {table} WHERE {owner_column} = :owner"
    params = {"owner": owner, "limit": limit + 1}
    if after:
        sql += " AND (created_at, id) < (:at, :id)"
        params.update(at=after[0], id=after[1])
    rows = db.session.execute(text(sql + " ORDER BY created_at DESC, id DESC LIMIT :limit"),
                              params).mappings().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
    return rows, next_cursor


def ticket_json(row):
    quote = None
    if row["quote_submitted_at"] is not None:
        quote = {"amount": float(row["quote_amount"]), "notes": row["quote_notes"],
                 "submittedAt": iso(row["quote_submitted_at"])}
    return {"id": row["id"], "landlordId": row["landlord_id"], "tenantId": row["tenant_id"],
            "propertyId": row["property_id"], "contractorId": row["contractor_id"],
            "title": row["title"], "category": row["category"],
            "description": row["description"], "priority": row["priority"],
            "status": row["status"], "quote": quote, "version": row["version"],
            "dueAt": iso(row["due_at"]),
            "overdue": row["status"] not in FINISHED and row["due_at"] < utcnow(),
            "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"])}


@app.get("/api/health")
def health():
    return jsonify({"status": "ok"})


@app.get("/api/tickets")
def list_tickets():
    who = claims()
    if who is None:
        return unauthorized()
    limit, after = cursor_args()
    rows, next_cursor = page("tickets", TICKET_COLUMNS, "landlord_id", who["landlordId"],
                             limit, after)
    return jsonify({"items": [ticket_json(r) for r in rows], "nextCursor": next_cursor})


def _ticket(who, ticket_id):
    return db.session.execute(text(
        f"SELECT {TICKET_COLUMNS} FROM tickets WHERE landlord_id = :owner AND id = :id"),
        {"owner": who["landlordId"], "id": ticket_id}).mappings().first()


@app.get("/api/tickets/<ticket_id>")
def get_ticket(ticket_id):
    who = claims()
    if who is None:
        return unauthorized()
    row = _ticket(who, ticket_id)
    if row is None:
        return jsonify({"error": {"code": "not_found", "message": "No such ticket."}}), 404
    return jsonify(ticket_json(row))


@app.get("/api/tickets/<ticket_id>/timeline")
def timeline(ticket_id):
    who = claims()
    if who is None:
        return unauthorized()
    if _ticket(who, ticket_id) is None:
        return jsonify({"error": {"code": "not_found", "message": "No such ticket."}}), 404
    rows = db.session.execute(text(
        "SELECT id, ticket_id, event_type, actor_id, details, created_at FROM ticket_timeline"
        " WHERE ticket_id = :id ORDER BY ticket_version"), {"id": ticket_id}).mappings().all()
    return jsonify([{"id": r["id"], "ticketId": r["ticket_id"], "eventType": r["event_type"],
                     "actorId": r["actor_id"], "details": r["details"],
                     "createdAt": iso(r["created_at"])} for r in rows])


@app.get("/api/notifications/unread-count")
def unread_count():
    who = claims()
    if who is None:
        return unauthorized()
    count = db.session.execute(text(
        "SELECT count(*) FROM notifications WHERE user_id = :user AND read_at IS NULL"),
        {"user": who["sub"]}).scalar_one()
    return jsonify({"count": count})


@app.get("/api/finance/invoices")
def list_invoices():
    who = claims()
    if who is None:
        return unauthorized()
    limit, after = cursor_args()
    rows, next_cursor = page("invoices", INVOICE_COLUMNS, "landlord_id", who["landlordId"],
                             limit, after)
    lines = {}
    if rows:
        for line in db.session.execute(text(
                "SELECT invoice_id, description, qty, unit_price, tax_rate, amount"
                " FROM invoice_lines WHERE invoice_id = ANY(:ids) ORDER BY position"),
                {"ids": [r["id"] for r in rows]}).mappings():
            lines.setdefault(line["invoice_id"], []).append({
                "description": line["description"], "qty": float(line["qty"]),
                "unitPrice": float(line["unit_price"]), "taxRate": float(line["tax_rate"]),
                "amount": float(line["amount"])})
    items = [{"id": r["id"], "landlordId": r["landlord_id"], "tenancyId": r["tenancy_id"],
              "number": r["number"], "issueDate": r["issue_date"].isoformat(),
              "dueDate": r["due_date"].isoformat(), "currency": r["currency"],
              "amount": float(r["amount"]), "amountPaid": float(r["amount_paid"]),
              "status": r["status"], "lines": lines.get(r["id"], [])} for r in rows]
    return jsonify({"items": items, "nextCursor": next_cursor})
