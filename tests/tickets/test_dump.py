"""The base Schema's fast dump (portal/schemas.py) writes exactly what marshmallow's own dump
writes: for stored tickets read fresh, expired after a commit, or changed and not yet stored,
and for the dicts nested in them."""
from datetime import datetime
from decimal import Decimal

import pytest
from marshmallow import Schema as MarshmallowSchema, fields, post_dump

from portal.extensions import db
from portal.schemas import Schema
from portal.tickets.models import Ticket
from portal.tickets.schemas import QuoteOutSchema, TicketSchema


def marshmallows_own(schema_class):
    """``schema_class`` dumped by marshmallow's own ``_serialize`` at the top level."""
    class Reference(schema_class):
        def _serialize(self, obj, *, many=False):
            return MarshmallowSchema._serialize(self, obj, many=many)
    return Reference


@pytest.mark.parametrize("status", ["OPEN", "QUOTED", "COMPLETED"])
def test_a_stored_ticket_dumps_as_marshmallow_dumps_it(app, make_ticket, status):
    ticket_id = make_ticket(status)
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        fast = TicketSchema().dump(ticket)
        assert fast == marshmallows_own(TicketSchema)().dump(ticket)
        assert fast["id"] == ticket_id and fast["status"] == status
        assert (fast["quote"] is None) == (status == "OPEN")
        db.session.remove()


def test_an_expired_ticket_is_loaded_again_and_dumps_the_stored_values(app, make_ticket):
    ticket_id = make_ticket("QUOTED")
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        expected = marshmallows_own(TicketSchema)().dump(ticket)
        db.session.expire(ticket)
        assert "title" not in ticket.__dict__
        assert TicketSchema().dump(ticket) == expected
        db.session.remove()


def test_a_changed_ticket_dumps_its_new_values(app, make_ticket):
    ticket_id = make_ticket("OPEN")
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        ticket.title = "Changed, not stored"
        fast = TicketSchema().dump(ticket)
        assert fast["title"] == "Changed, not stored"
        assert fast == marshmallows_own(TicketSchema)().dump(ticket)
        db.session.rollback()
        db.session.remove()


def test_a_dict_dumps_as_marshmallow_dumps_it():
    class WithDefault(Schema):
        name = fields.String()
        count = fields.Integer(dump_default=7)
        quote = fields.Nested(QuoteOutSchema, allow_none=True)
        flag = fields.Boolean()

    for value in ({"name": "a", "count": 2, "quote": None, "flag": True},
                  {"flag": False}, {"flag": "false"}, {"flag": 1}, {"flag": None},
                  {"name": None},  # a missing key is left out, or gets its default
                  {"quote": {"amount": 12, "notes": None}},
                  {"name": "b", "unknown": "ignored", "items": "not dict.items"}):
        assert WithDefault().dump(value) == marshmallows_own(WithDefault)().dump(value), value
    assert WithDefault().dump({"name": None}) == {"name": None, "count": 7}
    quote = {"amount": Decimal("480.25"), "notes": "Washer",
             "submitted_at": datetime(2026, 3, 4, 5, 6, 7, 890000)}
    assert QuoteOutSchema().dump(quote) == marshmallows_own(QuoteOutSchema)().dump(quote) == {
        "amount": 480.25, "notes": "Washer", "submittedAt": "2026-03-04T05:06:07.890Z"}


def test_a_nested_schema_with_dump_hooks_still_runs_them():
    class Tagged(Schema):
        name = fields.String()

        @post_dump
        def tag(self, data, **_kwargs):
            return {**data, "tagged": True}

    class Outer(Schema):
        one = fields.Nested(Tagged)
        many = fields.List(fields.Nested(Tagged))

    value = {"one": {"name": "a"}, "many": [{"name": "b"}, {"name": "c"}]}
    assert Outer().dump(value) == marshmallows_own(Outer)().dump(value) == {
        "one": {"name": "a", "tagged": True},
        "many": [{"name": "b", "tagged": True}, {"name": "c", "tagged": True}]}
