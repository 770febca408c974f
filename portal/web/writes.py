"""What a page's form does: read the form through the API's schema, call the same service."""

from portal.auth import service as auth
from portal.auth.schemas import LoginSchema
from portal.auth.tokens import issue_tokens
from portal.directory import service as directory
from portal.finance import late_fees, rent
from portal.finance import service as finance
from portal.finance.schemas import (InvoiceCreateSchema, LateFeePolicyInputSchema,
                                    RentBillingInputSchema)
from portal.notifications import service as notifications
from portal.tickets import service as tickets
from portal.tickets import state
from portal.tickets.schemas import (AssignSchema, QuoteSchema, StatusChangeSchema,
                                    TicketCreateSchema)
from portal.web.actions import action_named
from portal.web.forms import load, values


def sign_in(form) -> dict:
    """Check the sign-in form; the session's tokens (the same as the API's login issues)."""
    body = load(LoginSchema(), values(form, ("email", "password")))
    return issue_tokens(auth.authenticate(body["email"], body["password"]))


def file_ticket(principal, form):
    """A tenant reports a problem at its own property; the new ticket."""
    own = directory.list_properties(principal) if principal.role == state.TENANT else []
    data = values(form, ("title", "description", "priority", "category"))
    # On a phone the title is often all there is to say: it is then the description too (and
    # an optional field never reports itself missing when the title is).
    data.setdefault("description", data.get("title", "(no details)"))
    data["propertyId"] = own[0].id if own else ""
    body = load(TicketCreateSchema(), data)
    return tickets.create_ticket(principal, **body)


def act_on_ticket(principal, ticket_id: str, name: str, form):
    """Take the named action on a visible ticket; the ticket as it now is."""
    action = action_named(name)
    if action.call == state.ASSIGN:
        body = load(AssignSchema(), values(form, ("contractorId",)))
        return tickets.assign(principal, ticket_id, body["contractor_id"])
    if action.call == state.QUOTE:
        body = load(QuoteSchema(), {"notes": "", **values(form, ("amount", "notes"),
                                                          numbers=("amount",))})
        return tickets.submit_quote(principal, ticket_id, body["amount"], body["notes"])
    if action.call == state.APPROVE:
        return tickets.approve(principal, ticket_id)
    body = load(StatusChangeSchema(), {**values(form, ("note",)), "to": action.target})
    return tickets.change_status(principal, ticket_id, body["to"], body.get("note"))


LINE_FIELDS = ("description", "qty", "unitPrice", "taxRate")


def issue_invoice(principal, form):
    """A landlord bills one of its tenancies (one line from the form); the new invoice."""
    head = values(form, ("tenancyId", "issueDate", "dueDate", "currency"))
    line = values(form, LINE_FIELDS, numbers=("qty", "unitPrice", "taxRate"))
    body = load(InvoiceCreateSchema(), {**head, "lines": [line]})
    return finance.create_invoice(principal, body)


def _whole(data: dict, names) -> dict:
    # Form numbers arrive as decimals; a whole one is the integer the schema asks for.
    for name in names:
        if name in data and data[name] == data[name].to_integral_value():
            data[name] = int(data[name])
    return data


def set_late_fee_policy(principal, form):
    """A landlord's late-fee policy from its form; the policy as it now is."""
    data = _whole(values(form, ("graceDays", "flat", "percent"),
                         numbers=("graceDays", "flat", "percent")), ("graceDays",))
    return late_fees.set_policy(principal, load(LateFeePolicyInputSchema(), data))


def set_rent_billing(principal, tenancy_id: str, form):
    """One tenancy's rent billing from its form (a checkbox for enabled); the settings."""
    data = _whole(values(form, ("dueDay", "leadDays"), numbers=("dueDay", "leadDays")),
                  ("dueDay", "leadDays"))
    data["enabled"] = form.get("enabled") == "on"
    return rent.set_billing(principal, tenancy_id, load(RentBillingInputSchema(), data))


def mark_all_read(principal) -> int:
    """Mark every notification of the caller read; how many were unread."""
    return notifications.mark_read(principal, all_=True)
