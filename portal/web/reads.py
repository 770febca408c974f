"""What each page (and each live region of one) shows: one call, composed from the areas' own
services, so a page sees exactly what the API would show the same caller."""
from portal.auth import service as auth
from portal.directory import service as directory
from portal.errors import Forbidden, NotFound
from portal.finance import late_fees, rent
from portal.finance import service as finance
from portal.finance import statement as statements
from portal.notifications import service as notifications
from portal.tickets import service as tickets
from portal.tickets import state
from portal.tickets.describe import change_text, details_of
from portal.web.actions import available

PAGE_SIZE = 50


def header(principal) -> dict:
    """The signed-in user and the bell's unread count."""
    return {"user": auth.get_user(principal), **bell(principal)}


def bell(principal) -> dict:
    return {"unread": notifications.unread_count(principal)}


def _property_names(principal) -> dict:
    return {prop.id: prop.name for prop in directory.list_properties(principal)}


def board(principal, status=None, cursor=None) -> dict:
    """The visible tickets, newest first, optionally of one status."""
    found = tickets.list_tickets(principal, limit=PAGE_SIZE, cursor=cursor, status=status)
    return {"tickets": found["items"], "next_cursor": found["next_cursor"], "status": status,
            "cursor": cursor,
            "statuses": state.STATUSES, "properties": _property_names(principal)}


def new_ticket(principal) -> dict:
    """The report form: only a tenant files tickets, always for its own property."""
    if principal.role != state.TENANT:
        raise Forbidden("Only a tenant reports problems.")
    own = directory.list_properties(principal)
    return {"property": own[0] if own else None, "priorities": state.PRIORITIES}


def ticket(principal, ticket_id: str) -> dict:
    """One visible ticket (404 otherwise), its timeline and what the caller may do now."""
    found = tickets.get_ticket(principal, ticket_id)
    entries = tickets.timeline(principal, ticket_id)
    details = [details_of(entry) for entry in entries]
    firms = directory.firm_names([found.contractor_id] + [d.get("contractorId") for d in details])
    actors = auth.user_names(entry.actor_id for entry in entries)
    actions = available(principal.role, found.status)
    may_assign = any(action.call == state.ASSIGN for action in actions)
    return {
        "ticket": found, "actions": actions, "firm": firms.get(found.contractor_id),
        "property": _property_names(principal).get(found.property_id),
        "firms": directory.list_contractors(principal) if may_assign else [],
        "timeline": [{"entry": entry, "actor": actors.get(entry.actor_id),
                      "text": change_text(entry.event_type, detail, firms)}
                     for entry, detail in zip(entries, details)],
    }


def _tenancy_labels(principal) -> dict:
    names = _property_names(principal)
    return {tenancy.id: names.get(tenancy.property_id, tenancy.id)
            for tenancy in directory.list_tenancies(principal)}


def invoices(principal) -> dict:
    """The caller's invoices, newest first; a landlord's tenancies for the issue form."""
    found = finance.list_invoices(principal, PAGE_SIZE, None)
    return {"invoices": found["items"], "tenancies": _tenancy_labels(principal),
            "may_issue": principal.role == "LANDLORD"}


def invoice(principal, invoice_id: str) -> dict:
    """One visible invoice (404 otherwise): its lines, its payments and their refunds."""
    found = finance.get_invoice(principal, invoice_id)
    payments = finance.list_payments(principal, PAGE_SIZE, None, invoice_id=invoice_id)
    return {"invoice": found, "payments": payments["items"],
            "refunds": finance.list_refunds(principal, invoice_id),
            "tenancy": _tenancy_labels(principal).get(found.tenancy_id)}


def statement(principal, tenancy_id=None) -> dict:
    """A visible tenancy's statement (the caller's first tenancy unless one is named)."""
    finance.require_finance_role(principal)
    labels = _tenancy_labels(principal)
    tenancy_id = tenancy_id or next(iter(labels), None)
    found = statements.tenancy_statement(principal, tenancy_id) if tenancy_id else None
    return {"statement": found, "tenancy_id": tenancy_id, "tenancies": labels}


def billing(principal) -> dict:
    """A landlord's late-fee policy (None until set) and each tenancy's rent billing."""
    landlord_only(principal)
    try:
        policy = late_fees.get_policy(principal)
    except NotFound:
        policy = None
    labels = _tenancy_labels(principal)
    return {"policy": policy, "tenancies": labels,
            "billing": {tenancy_id: rent.get_billing(principal, tenancy_id)
                        for tenancy_id in labels}}


def landlord_only(principal) -> None:
    """The billing page is a landlord's (others: 403, as the API answers them)."""
    finance.require_finance_role(principal)
    if principal.role != "LANDLORD":
        raise Forbidden("Only a landlord sets billing and late fees.")


def inbox(principal) -> dict:
    """The caller's notifications, newest first."""
    found = notifications.list_notifications(principal, limit=PAGE_SIZE)
    return {"notifications": found["items"], **bell(principal)}
