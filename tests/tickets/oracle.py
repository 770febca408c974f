"""The contract's state machine (docs/tickets.md) written out independently of portal/tickets/state.py (the oracle)."""
STATUSES = ("OPEN", "TRIAGED", "QUOTED", "APPROVED", "IN_PROGRESS", "COMPLETED", "AUDITED",
            "CANCELLED")
ROLES = ("TENANT", "LANDLORD", "CONTRACTOR", "OPS")
CANCELLABLE = ("OPEN", "TRIAGED", "QUOTED", "APPROVED", "IN_PROGRESS", "COMPLETED")

# PATCH …/status: (from, to) → the roles that may make it.
STATUS_MOVES = {
    ("OPEN", "TRIAGED"): {"LANDLORD", "OPS"},
    ("APPROVED", "IN_PROGRESS"): {"CONTRACTOR"},
    ("IN_PROGRESS", "COMPLETED"): {"CONTRACTOR"},
    ("COMPLETED", "AUDITED"): {"OPS"},
    **{(s, "CANCELLED"): {"LANDLORD", "OPS"} | ({"TENANT"} if s in ("OPEN", "TRIAGED") else set())
       for s in CANCELLABLE},
}
# Roles that may never move a ticket to this status through PATCH …/status (→ 403).
STATUS_NEVER = {
    "TRIAGED": {"TENANT", "CONTRACTOR"},
    "IN_PROGRESS": {"TENANT", "LANDLORD", "OPS"},
    "COMPLETED": {"TENANT", "LANDLORD", "OPS"},
    "AUDITED": {"TENANT", "LANDLORD", "CONTRACTOR"},
    "CANCELLED": {"CONTRACTOR"},
    # Nobody reaches OPEN again, and QUOTED / APPROVED only through their own calls: 409.
    "OPEN": set(), "QUOTED": set(), "APPROVED": set(),
}
# The other calls: (roles, statuses they work from).
ACTIONS = {
    "assign": ({"LANDLORD", "OPS"}, {"OPEN", "TRIAGED"}),
    "quote": ({"CONTRACTOR"}, {"TRIAGED"}),
    "approve": ({"LANDLORD"}, {"QUOTED"}),
}


def expected_status_change(role, current, to):
    """200, 403 or 409 for PATCH …/status."""
    if role in STATUS_MOVES.get((current, to), set()):
        return 200
    return 403 if role in STATUS_NEVER[to] else 409


def expected_action(call, role, current):
    """200, 403 or 409 for assign / quote / approve."""
    roles, sources = ACTIONS[call]
    if role not in roles:
        return 403
    return 200 if current in sources else 409
