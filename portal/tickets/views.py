"""Ticket endpoints (docs/tickets.md): validate, call one service function, dump."""
import click
from flask_smorest import Blueprint

from portal.auth.principal import authenticated, caller
from portal.pagination import PageArgsSchema
from portal.tickets import comments, service, state
from portal.tickets.schemas import (ApproveSchema, AssignSchema, CommentCreateSchema,
                                    CommentListSchema, CommentSchema, QuoteSchema,
                                    StatusChangeSchema, TicketCreateSchema, TicketListArgsSchema,
                                    TicketListSchema, TicketSchema, TimelineEntrySchema)

blp = Blueprint("tickets", __name__, url_prefix="/api/tickets",
                description="Maintenance tickets and their workflow")


@blp.route("", methods=["POST"])
@authenticated
@blp.arguments(TicketCreateSchema)
@blp.response(201, TicketSchema)
def create(body):
    """File a ticket for the caller's own property (tenants)."""
    return service.create_ticket(caller(), **body)


@blp.route("", methods=["GET"])
@authenticated
@blp.arguments(TicketListArgsSchema, location="query")
@blp.response(200, TicketListSchema)
def list_(args):
    """Visible tickets, newest first, filtered by status, property, priority and lateness."""
    return service.list_tickets(caller(), **args)


@blp.route("/<ticket_id>", methods=["GET"])
@authenticated
@blp.response(200, TicketSchema)
def get(ticket_id):
    """One ticket the caller may see."""
    return service.get_ticket(caller(), ticket_id)


@blp.route("/<ticket_id>/assign", methods=["POST"])
@authenticated
@blp.arguments(AssignSchema)
@blp.response(200, TicketSchema)
def assign(body, ticket_id):
    """Assign a contractor firm (landlords and OPS; status OPEN or TRIAGED)."""
    return service.assign(caller(), ticket_id, body["contractor_id"])


@blp.route("/<ticket_id>/status", methods=["PATCH"])
@authenticated
@blp.arguments(StatusChangeSchema)
@blp.response(200, TicketSchema)
def change_status(body, ticket_id):
    """Move the ticket to another status, as the state machine allows the caller's role."""
    return service.change_status(caller(), ticket_id, body["to"], body.get("note"))


@blp.route("/<ticket_id>/quote", methods=["POST"])
@authenticated
@blp.arguments(QuoteSchema)
@blp.response(200, TicketSchema)
def quote(body, ticket_id):
    """The assigned contractor quotes a TRIAGED ticket."""
    return service.submit_quote(caller(), ticket_id, body["amount"], body["notes"])


@blp.route("/<ticket_id>/approve", methods=["POST"])
@authenticated
@blp.arguments(ApproveSchema)
@blp.response(200, TicketSchema)
def approve(_body, ticket_id):
    """The landlord approves the quote (send an Idempotency-Key so a retry is safe)."""
    return service.approve(caller(), ticket_id)


@blp.route("/<ticket_id>/timeline", methods=["GET"])
@authenticated
@blp.response(200, TimelineEntrySchema(many=True))
def timeline(ticket_id):
    """Every recorded change of the ticket, oldest first."""
    return service.timeline(caller(), ticket_id)


@blp.route("/<ticket_id>/comments", methods=["POST"])
@authenticated
@blp.arguments(CommentCreateSchema)
@blp.response(201, CommentSchema)
def add_comment(body, ticket_id):
    """Comment on the ticket; ``internal: true`` is a note the tenant never sees (not tenants)."""
    return comments.add_comment(caller(), ticket_id, **body)


@blp.route("/<ticket_id>/comments", methods=["GET"])
@authenticated
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, CommentListSchema)
def list_comments(args, ticket_id):
    """The ticket's comments the caller may read, oldest first."""
    return comments.list_comments(caller(), ticket_id, **args)


@blp.cli.command("state-table")
def state_table():
    """Print the ticket state machine as the Markdown tables in docs/tickets.md."""
    click.echo(state.state_table() + "\n" + state.role_matrix(), nl=False)
