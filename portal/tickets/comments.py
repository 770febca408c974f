"""Ticket comments: public ones for everyone who sees the ticket, internal notes among the
landlord, the assigned contractor and OPS that a tenant never sees."""
from portal.database import atomic
from portal.errors import Forbidden
from portal.events.outbox import record_event
from portal.extensions import db
from portal.pagination import paginate
from portal.roles import TENANT
from portal.tickets.models import TicketComment
from portal.tickets.service import get_ticket, ticket_audience, ticket_staff_audience


def add_comment(principal, ticket_id: str, *, body: str, internal: bool = False) -> TicketComment:
    """Comment on a visible ticket (event ``ticket.comment_added``; an internal note's audience
    leaves the tenancy out)."""
    with atomic(keep_loaded=True):
        ticket = get_ticket(principal, ticket_id)
        if internal and principal.role == TENANT:
            raise Forbidden("A tenant may not write internal notes.")
        comment = TicketComment(ticket_id=ticket.id, author_id=principal.user_id,
                                author_role=principal.role, body=body, internal=internal)
        db.session.add(comment)
        db.session.flush()
        audience = ticket_staff_audience(ticket) if internal else ticket_audience(ticket)
        record_event("ticket.comment_added", principal, landlord_id=ticket.landlord_id,
                     tenant_id=ticket.tenant_id,
                     resources=[{"type": "ticket", "id": ticket.id},
                                {"type": "comment", "id": comment.id}],
                     audience=audience)  # no version: the ticket itself did not change
    return comment


def visible_comments(principal, ticket):
    """A query of the ticket's comments the caller may read (a tenant: the public ones)."""
    query = db.select(TicketComment).where(TicketComment.ticket_id == ticket.id)
    if principal.role == TENANT:
        query = query.where(TicketComment.internal.is_(False))
    return query


def list_comments(principal, ticket_id: str, *, limit: int, cursor=None) -> dict:
    """An oldest-first page of the visible ticket's comments the caller may read."""
    ticket = get_ticket(principal, ticket_id)
    return paginate(visible_comments(principal, ticket), TicketComment, limit, cursor,
                    oldest_first=True)
