"""Audience keys: who an event is for, written once. An event's audience and a subscriber's
keys are sets of ``kind:value`` keys (``user:usr_1``, ``role:OPS``, ``landlord:ll_1``,
``tenant:ten_1``, ``contractor:ctr_1``, ``session:<sid>``); the hub delivers where the two
meet. Each area builds its own resources' audience from these constructors."""
USER, ROLE, LANDLORD, TENANT, CONTRACTOR, SESSION = (
    "user", "role", "landlord", "tenant", "contractor", "session")


def _constructor(kind: str):
    def key(value) -> str:
        return f"{kind}:{value}"
    key.__doc__ = f"The audience key of one {kind}."
    return key


user, role, landlord, tenant, contractor, session = map(
    _constructor, (USER, ROLE, LANDLORD, TENANT, CONTRACTOR, SESSION))


def parse(key: str) -> tuple:
    """``"landlord:ll_1"`` → ``("landlord", "ll_1")``."""
    kind, _, value = key.partition(":")
    return kind, value


def principal_keys(principal) -> frozenset:
    """The keys a caller matches: itself, its role, its organisation, its session."""
    keys = {user(principal.user_id), role(principal.role)}
    for make, value in ((landlord, principal.landlord_id), (tenant, principal.tenant_id),
                        (contractor, principal.contractor_id), (session, principal.session_id)):
        if value:
            keys.add(make(value))
    return frozenset(keys)


def visible(subscriber_keys, event_keys) -> bool:
    """True when a subscriber's keys and an event's audience meet."""
    return not subscriber_keys.isdisjoint(event_keys)
