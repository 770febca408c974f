"""Opaque cursors and pages (newest first, or oldest first) for every list endpoint."""
import base64
import json
from datetime import datetime

import sqlalchemy as sa
from marshmallow import ValidationError, fields, validate, validates

from portal.fields import iso
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.http import unstorable
from portal.plain_rows import plain_rows
from portal.schemas import InputSchema

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class PageArgsSchema(InputSchema):
    """``?limit=&cursor=`` (list endpoints extend it with their filters)."""

    limit = fields.Integer(load_default=DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))

    @validates("cursor")
    def _cursor(self, value, **_kwargs):
        if value is not None:
            decode_cursor(value)


def encode_cursor(created_at: datetime, row_id: str) -> str:
    """An opaque cursor pointing just past this row (in the page's order)."""
    raw = json.dumps([iso(created_at), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str):
    """(created_at, id) from a cursor; raises a marshmallow ValidationError if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, row_id = json.loads(raw)
        # Only what encode_cursor writes: anything else could reach the query as a wrong type
        # or as text the database refuses.
        if not isinstance(stamp, str) or not isinstance(row_id, str) or unstorable(row_id):
            raise ValueError
        created_at = datetime.fromisoformat(stamp.rstrip("Z"))
        if created_at.tzinfo is not None:
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationError("Not a valid cursor.")
    return created_at, row_id


def paginate(query, model, limit: int, cursor, oldest_first=False, mapped=False) -> dict:
    """Run ``query`` (a ``select(model)`` with its filters) newest first (or oldest first) from
    ``cursor``; return ``{"items", "next_cursor"}``, the items as plain rows
    (portal/plain_rows.py: a page is read to be shown).

    The model needs ``created_at`` and ``id``; ties on created_at are broken by id. The query
    must not join a one-to-many table to filter (use EXISTS): a row would come back once per
    match.

    ``mapped``: the items are mapped objects instead, for a query that loads a collection in
    the same statement (``joinedload``, which SQLAlchemy applies around the limited rows), so
    that a page and its children come from one snapshot: under READ COMMITTED a second query
    for the children could see a change the first did not (an invoice's new late-fee line
    beside its old amount).
    """
    if cursor:
        try:
            created_at, row_id = decode_cursor(cursor)
        except ValidationError as exc:
            raise ValidationFailed(details={"cursor": exc.messages})
        # One row-value comparison, which an index on (owner, created_at, id) answers as a
        # range: the OR of the two conditions read every newer row as a filter instead.
        key, mark = sa.tuple_(model.created_at, model.id), sa.tuple_(created_at, row_id)
        query = query.where(key > mark if oldest_first else key < mark)
    order = (model.created_at.asc(), model.id.asc()) if oldest_first else \
        (model.created_at.desc(), model.id.desc())
    query = query.order_by(*order).limit(limit + 1)
    # unique(): a collection loaded in the same statement repeats its parent's row.
    rows = db.session.execute(query).unique().scalars().all() if mapped else \
        plain_rows(query, model)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
    return {"items": rows, "next_cursor": next_cursor}
