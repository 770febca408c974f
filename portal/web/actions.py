"""The ticket actions a page offers: exactly the state machine's ``allowed_moves`` for the
caller, each under the label a person sees on its button."""
from typing import NamedTuple, Optional

from portal.errors import NotFound
from portal.tickets import state


class Action(NamedTuple):
    """A button on the ticket page: its URL name, its label and the move it makes."""

    name: str
    label: str
    call: str
    target: Optional[str]


ACTIONS = (
    Action("triage", "Triage", state.STATUS, state.TRIAGED),
    Action("assign", "Assign", state.ASSIGN, None),
    Action("quote", "Submit quote", state.QUOTE, state.QUOTED),
    Action("approve", "Approve", state.APPROVE, state.APPROVED),
    Action("start", "Start work", state.STATUS, state.IN_PROGRESS),
    Action("complete", "Mark completed", state.STATUS, state.COMPLETED),
    Action("audit", "Audit", state.STATUS, state.AUDITED),
    Action("cancel", "Cancel ticket", state.STATUS, state.CANCELLED),
)
_BY_NAME = {action.name: action for action in ACTIONS}


def action_named(name: str) -> Action:
    """The action posted to ``/tickets/<id>/<name>``; 404 for a name we do not have."""
    action = _BY_NAME.get(name)
    if action is None:
        raise NotFound("No such action.")
    return action


def available(role: str, status: str) -> list:
    """The actions ``role`` may take on a ticket in ``status``, in workflow order."""
    moves = set(state.allowed_moves(role, status))
    return [action for action in ACTIONS if (action.call, action.target) in moves]


