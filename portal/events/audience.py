"""Audience keys: who an event is for, written once. An event's audience and a subscriber's
keys are sets of these; the hub delivers where the two meet (a set test, no query).

    user:usr_1  role:OPS  landlord:ll_1  tenant:ten_1  contractor:ctr_1  session:<sid>

Each area builds its own resources' audience from these constructors (tickets, invoices).
"""
USER, ROLE, LANDLORD, TENANT, CONTRACTOR, SESSION = (
    "user", "role", "landlord", "tenant", "contractor", "session")


def _key(kind: str, value) -> str:
    return f"{kind}:{value}"


def user(user_id: str) -> str:
    """The key of one user."""
    return _key(USER, user_id)


def role(name: str) -> str:
    """The key of every user with a role (``role:OPS``)."""
    return _key(ROLE, name)


def landlord(landlord_id: str) -> str:
    """The key of a landlord's users."""
    return _key(LANDLORD, landlord_id)


def tenant(tenancy_id: str) -> str:
    """The key of a tenancy's users."""
    return _key(TENANT, tenancy_id)


def contractor(contractor_id: str) -> str:
    """The key of a contractor firm's users."""
    return _key(CONTRACTOR, contractor_id)


def session(session_id: str) -> str:
    """The key of one login session's streams (control entries such as a revocation)."""
    return _key(SESSION, session_id)


def parse(key: str) -> tuple:
    """``"landlord:ll_1"`` → ``("landlord", "ll_1")``."""
    kind, _, value = key.partition(":")
    return kind, value


def principal_keys(principal) -> frozenset:
    """The keys a caller matches: itself, its role, its organisation, its session."""
    keys = {user(principal.user_id), role(principal.role)}
    if principal.landlord_id:
        keys.add(landlord(principal.landlord_id))
    if principal.tenant_id:
        keys.add(tenant(principal.tenant_id))
    if principal.contractor_id:
        keys.add(contractor(principal.contractor_id))
    if principal.session_id:
        keys.add(session(principal.session_id))
    return frozenset(keys)


def visible(subscriber_keys, event_keys) -> bool:
    """True when a subscriber's keys and an event's audience meet."""
    return not subscriber_keys.isdisjoint(event_keys)
