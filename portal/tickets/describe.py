"""What a recorded ticket change says to a person: one vocabulary for the timeline on the ticket's
page and for the notifications its parties receive ("quote submitted (150.00)")."""
import json

from portal.tickets import state

# How a status reads in a sentence (the status itself stays the upper-case code everywhere else).
STATUS_WORDS = {
    state.OPEN: "open", state.TRIAGED: "triaged", state.QUOTED: "quoted",
    state.APPROVED: "approved", state.IN_PROGRESS: "work started",
    state.COMPLETED: "work completed", state.AUDITED: "audited", state.CANCELLED: "cancelled",
}


def details_of(entry) -> dict:
    """The timeline entry's details (stored as JSON text)."""
    try:
        details = json.loads(entry.details or "{}")
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


def _amount(details) -> str:
    amount = details.get("amount")
    return "" if amount is None else f" ({float(amount):.2f})"


def change_text(timeline_type: str, details: dict, firm_names: dict) -> str:
    """A short lower-case phrase for one change: "reported (HIGH)", "assigned to FixIt"."""
    if timeline_type == "created":
        return f"reported ({details.get('priority', '').title() or 'no'} priority)"
    if timeline_type == "assigned":
        firm = firm_names.get(details.get("contractorId"), "a contractor")
        return f"assigned to {firm}"
    if timeline_type == "quote_submitted":
        return "quote submitted" + _amount(details)
    if timeline_type == "approved":
        return "quote approved" + _amount(details)
    words = STATUS_WORDS.get(details.get("to"), (details.get("to") or "updated").lower())
    note = details.get("note")
    return words + (f": {note}" if note else "")
