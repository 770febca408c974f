"""The four roles a user can have, written once for every area."""

TENANT, LANDLORD, CONTRACTOR, OPS = "TENANT", "LANDLORD", "CONTRACTOR", "OPS"
ROLES = (TENANT, LANDLORD, CONTRACTOR, OPS)
