"""Ticket rules and transactions: each write is one commit of ticket + timeline + outbox row."""
import json
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from portal.database import atomic, utcnow
from portal.directory.models import ContractorFirm, Tenancy
from portal.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from portal.events import audience
from portal.events.outbox import record_event
from portal.extensions import db
from portal.money import money_json
from portal.pagination import paginate
from portal.roles import CONTRACTOR, LANDLORD, OPS, TENANT
from portal.tickets import sla, state
from portal.tickets.models import Ticket, TimelineEntry


def ticket_audience(ticket: Ticket) -> list:
    """Who sees a ticket's events: the landlord's users, the tenancy's, the assigned firm's, OPS."""
    keys = [audience.landlord(ticket.landlord_id), audience.tenant(ticket.tenant_id),
            audience.role(OPS)]
    if ticket.contractor_id:
        keys.append(audience.contractor(ticket.contractor_id))
    return keys


def ticket_staff_audience(ticket: Ticket) -> list:
    """Who sees a ticket's internal notes: its audience without the tenancy."""
    return [key for key in ticket_audience(ticket) if key != audience.tenant(ticket.tenant_id)]


def visible_tickets(principal):
    """A query of the tickets the caller may see (anything else answers 404)."""
    query = sa.select(Ticket)
    scope = {LANDLORD: (Ticket.landlord_id, principal.landlord_id),
             TENANT: (Ticket.tenant_id, principal.tenant_id),
             CONTRACTOR: (Ticket.contractor_id, principal.contractor_id)}
    if principal.role == OPS:
        return query
    column, value = scope.get(principal.role, (None, None))
    if value is None:
        # Never compare with NULL: "contractor_id IS NULL" would show every unassigned ticket.
        return query.where(sa.false())
    return query.where(column == value)


def get_ticket(principal, ticket_id: str) -> Ticket:
    """One visible ticket, or NotFound."""
    ticket = db.session.execute(
        visible_tickets(principal).where(Ticket.id == ticket_id)).scalar_one_or_none()
    if ticket is None:
        raise NotFound("No such ticket.")
    return ticket


def list_tickets(principal, *, limit: int, cursor=None, status=None, property_id=None,
                 priority=None, overdue=None) -> dict:
    """A newest-first page of the visible tickets matching the filters."""
    query = visible_tickets(principal)
    if overdue is not None:
        late = sla.overdue_clause(Ticket)
        query = query.where(late if overdue else sa.not_(late))
    if status:
        query = query.where(Ticket.status == status)
    if property_id:
        query = query.where(Ticket.property_id == property_id)
    if priority:
        query = query.where(Ticket.priority == priority)
    return paginate(query, Ticket, limit, cursor)


def timeline(principal, ticket_id: str) -> list:
    """The visible ticket's timeline, oldest first."""
    ticket = get_ticket(principal, ticket_id)
    return db.session.execute(sa.select(TimelineEntry).where(
        TimelineEntry.ticket_id == ticket.id).order_by(TimelineEntry.ticket_version)
    ).scalars().all()


def create_ticket(principal, *, property_id: str, title: str, description: str, priority: str,
                  category: Optional[str] = None) -> Ticket:
    """File a ticket for the tenant's own property (status OPEN, event ticket.created)."""
    if principal.role != TENANT:
        raise Forbidden("Only a tenant files tickets.")
    tenancy = db.session.get(Tenancy, principal.tenant_id) if principal.tenant_id else None
    if tenancy is None or tenancy.property_id != property_id:
        # The same answer for an unknown property and another one: nothing leaks.
        raise ValidationFailed(details={"propertyId": ["Not the property of your tenancy."]})
    ticket = Ticket(landlord_id=tenancy.landlord_id, tenant_id=tenancy.id,
                    property_id=property_id, title=title.strip(), category=category,
                    description=description, priority=priority, status=state.OPEN)
    db.session.add(ticket)
    return _record_and_commit(principal, ticket, None, state.OPEN,
                              {"to": state.OPEN, "priority": priority})


def assign(principal, ticket_id: str, contractor_id: str) -> Ticket:
    """Set the contractor firm of an OPEN or TRIAGED ticket (event ticket.assigned)."""
    ticket = _load_for_change(principal, ticket_id)
    _check(state.ASSIGN, principal, ticket)
    if db.session.get(ContractorFirm, contractor_id) is None:
        _abort(ValidationFailed(details={"contractorId": ["No such contractor firm."]}))
    if ticket.contractor_id == contractor_id:
        # Nothing changes: no new version, no timeline entry, no event (a retry is harmless).
        db.session.rollback()
        return ticket
    details = {"contractorId": contractor_id, "previousContractorId": ticket.contractor_id}
    ticket.contractor_id = contractor_id
    return _record_and_commit(principal, ticket, state.ASSIGN, None, details)


def change_status(principal, ticket_id: str, to: str, note: Optional[str] = None) -> Ticket:
    """Move the ticket through ``PATCH …/status`` as the state machine allows."""
    ticket = _load_for_change(principal, ticket_id)
    _check(state.STATUS, principal, ticket, to)
    details = {"from": ticket.status, "to": to}
    if note:
        details["note"] = note
    ticket.status = to
    return _record_and_commit(principal, ticket, state.STATUS, to, details)


def submit_quote(principal, ticket_id: str, amount, notes: str) -> Ticket:
    """The assigned contractor quotes a TRIAGED ticket (status QUOTED)."""
    ticket = _load_for_change(principal, ticket_id)
    _check(state.QUOTE, principal, ticket, state.QUOTED)
    details = {"from": ticket.status, "to": state.QUOTED, "amount": money_json(amount)}
    ticket.status = state.QUOTED
    ticket.quote_amount, ticket.quote_notes = amount, notes
    ticket.quote_submitted_at = utcnow()
    return _record_and_commit(principal, ticket, state.QUOTE, state.QUOTED, details)


def approve(principal, ticket_id: str) -> Ticket:
    """The landlord approves a QUOTED ticket (status APPROVED)."""
    ticket = _load_for_change(principal, ticket_id)
    _check(state.APPROVE, principal, ticket, state.APPROVED)
    details = {"from": ticket.status, "to": state.APPROVED,
               "amount": money_json(ticket.quote_amount)}
    ticket.status = state.APPROVED
    return _record_and_commit(principal, ticket, state.APPROVE, state.APPROVED, details)


def _load_for_change(principal, ticket_id: str) -> Ticket:
    # The row lock makes a concurrent change wait and then judge the status the winner left
    # (PostgreSQL); SQLite serializes writers at BEGIN. The version compare-and-set on flush
    # is the backstop for any path that reads without the lock.
    ticket = db.session.execute(
        visible_tickets(principal).where(Ticket.id == ticket_id).with_for_update()
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if ticket is None:
        _abort(NotFound("No such ticket."))
    return ticket


def _check(call: str, principal, ticket: Ticket, target: Optional[str] = None) -> None:
    verdict = state.decide(call, principal.role, ticket.status, target)
    if verdict is state.Verdict.WRONG_ROLE:
        _abort(Forbidden(f"A {principal.role.lower()} may not do this."))
    if verdict is state.Verdict.INVALID:
        details = {"currentStatus": ticket.status}
        if target:
            details["requestedStatus"] = target
        message = (f"The ticket is {ticket.status}; this is not possible now."
                   if target is None or call != state.STATUS else
                   f"The ticket cannot move from {ticket.status} to {target} this way.")
        _abort(InvalidTransition(message, details=details))


def _abort(error):
    db.session.rollback()  # release the row lock at once
    raise error


def _record_and_commit(principal, ticket: Ticket, call, target, details: dict) -> Ticket:
    """Flush the change (bumping version), add its timeline entry and outbox row, commit.

    ``call`` None is the ticket's creation; any other is named by its rule in the state table.
    """
    timeline_type, event_type = (("created", "ticket.created") if call is None
                                 else state.names(call, target))
    try:
        with atomic(keep_loaded=True):
            db.session.flush()  # the version compare-and-set: StaleDataError if it moved
            db.session.add(TimelineEntry(ticket_id=ticket.id, ticket_version=ticket.version,
                                         event_type=timeline_type, actor_id=principal.user_id,
                                         details=json.dumps(details)))
            record_event(event_type, principal, landlord_id=ticket.landlord_id,
                                 tenant_id=ticket.tenant_id,
                                 resources=[{"type": "ticket", "id": ticket.id}],
                                 audience=ticket_audience(ticket),
                                 version=ticket.version)
    except StaleDataError:
        raise Conflict("The ticket was changed by someone else; reload and retry.",
                       code="version_conflict") from None
    return ticket
