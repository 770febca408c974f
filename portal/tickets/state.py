"""The ticket state machine as data: which call moves which status, and who may make it.

Pure Python (no Flask, no database): the service asks ``decide`` and maps the verdict to an
HTTP error; ``docs/tickets.md`` prints ``RULES`` as a table (``flask tickets state-table``).
"""
from dataclasses import dataclass
from enum import Enum
from typing import Optional

from portal.roles import CONTRACTOR, LANDLORD, OPS, ROLES, TENANT

OPEN, TRIAGED, QUOTED, APPROVED = "OPEN", "TRIAGED", "QUOTED", "APPROVED"
IN_PROGRESS, COMPLETED, AUDITED, CANCELLED = "IN_PROGRESS", "COMPLETED", "AUDITED", "CANCELLED"
STATUSES = (OPEN, TRIAGED, QUOTED, APPROVED, IN_PROGRESS, COMPLETED, AUDITED, CANCELLED)
# Statuses in which nobody owes the tenant a response any more (never overdue).
FINISHED = (COMPLETED, AUDITED, CANCELLED)
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "URGENT")


# The calls that act on an existing ticket (the path's last segment).
STATUS, ASSIGN, QUOTE, APPROVE = "status", "assign", "quote", "approve"
CALLS = {
    STATUS: "PATCH /api/tickets/{id}/status",
    ASSIGN: "POST /api/tickets/{id}/assign",
    QUOTE: "POST /api/tickets/{id}/quote",
    APPROVE: "POST /api/tickets/{id}/approve",
}


@dataclass(frozen=True)
class Rule:
    """``call`` by one of ``roles`` on a ticket in one of ``sources`` moves it to ``target``,
    recorded as the timeline entry ``timeline`` and announced as the event ``event``.

    ``target`` is None for a call that changes no status (assign).
    """

    call: str
    sources: tuple
    target: Optional[str]
    roles: tuple
    timeline: str
    event: str


_CANCELLABLE = (OPEN, TRIAGED, QUOTED, APPROVED, IN_PROGRESS, COMPLETED)
_CHANGED = ("status_changed", "ticket.status_changed")

RULES = (
    Rule(ASSIGN, (OPEN, TRIAGED), None, (LANDLORD, OPS), "assigned", "ticket.assigned"),
    Rule(STATUS, (OPEN,), TRIAGED, (LANDLORD, OPS), *_CHANGED),
    Rule(QUOTE, (TRIAGED,), QUOTED, (CONTRACTOR,), "quote_submitted", "ticket.quote_submitted"),
    Rule(APPROVE, (QUOTED,), APPROVED, (LANDLORD,), "approved", "ticket.approved"),
    Rule(STATUS, (APPROVED,), IN_PROGRESS, (CONTRACTOR,), *_CHANGED),
    Rule(STATUS, (IN_PROGRESS,), COMPLETED, (CONTRACTOR,), "completed", "ticket.completed"),
    Rule(STATUS, (COMPLETED,), AUDITED, (OPS,), "audited", "ticket.status_changed"),
    Rule(STATUS, _CANCELLABLE, CANCELLED, (LANDLORD, OPS), "cancelled", "ticket.status_changed"),
    Rule(STATUS, (OPEN, TRIAGED), CANCELLED, (TENANT,), "cancelled", "ticket.status_changed"),
)


class Verdict(Enum):
    """The answer to "may this role make this call now?"."""

    ALLOWED = "allowed"
    WRONG_ROLE = "wrong_role"  # the role may never make this move: 403
    INVALID = "invalid"  # the move is not possible from the current status: 409


def decide(call: str, role: str, current: str, target: Optional[str] = None) -> Verdict:
    """Judge ``call`` (to ``target`` for a status change) by ``role`` on a ``current`` ticket."""
    rules = [r for r in RULES if r.call == call and (call != STATUS or r.target == target)]
    if not rules:
        # No call of this kind ever reaches the target (QUOTED and APPROVED have their own
        # calls, nothing returns to OPEN): the state machine forbids it, whoever asks.
        return Verdict.INVALID
    mine = [r for r in rules if role in r.roles]
    if not mine:
        return Verdict.WRONG_ROLE
    if any(current in r.sources for r in mine):
        return Verdict.ALLOWED
    return Verdict.INVALID


def allowed_moves(role: str, current: str) -> list:
    """The (call, target) pairs ``role`` may make on a ticket in status ``current``."""
    return [(r.call, r.target) for r in RULES if role in r.roles and current in r.sources]


def names(call: str, target: Optional[str]) -> tuple:
    """(timeline ``eventType``, domain event type) recorded for a call that ``decide`` allowed."""
    rule = next(r for r in RULES if r.call == call and r.target == target)
    return rule.timeline, rule.event


def state_table() -> str:
    """The rules as a Markdown table (what docs/tickets.md shows)."""
    lines = ["| from | to | call | who | timeline | event |", "|---|---|---|---|---|---|"]
    for rule in RULES:
        lines.append("| {} | {} | `{}` | {} | `{}` | `{}` |".format(
            ", ".join(rule.sources), rule.target or "(unchanged)", CALLS[rule.call],
            ", ".join(rule.roles), rule.timeline, rule.event))
    return "\n".join(lines) + "\n"


def role_matrix() -> str:
    """For each status, what each role may do there (a second view of the same rules)."""
    lines = ["| status | " + " | ".join(ROLES) + " |", "|---" * (len(ROLES) + 1) + "|"]
    for status in STATUSES:
        cells = []
        for role in ROLES:
            moves = [f"{call}→{target}" if target else call
                     for call, target in allowed_moves(role, status)]
            cells.append(", ".join(moves) or "–")
        lines.append(f"| {status} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
