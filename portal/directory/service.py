"""Directory reads, each scoped to what the caller may see."""
import sqlalchemy as sa

from portal.directory.models import ContractorFirm, Property, Tenancy
from portal.errors import Forbidden
from portal.extensions import db
from portal.roles import CONTRACTOR, LANDLORD, OPS, TENANT


def visible_properties(principal):
    """A query of the properties the caller may see."""
    query = db.select(Property)
    if principal.role == LANDLORD:
        return query.where(Property.landlord_id == principal.landlord_id)
    if principal.role == TENANT:
        return query.join(Tenancy, Tenancy.property_id == Property.id).where(
            Tenancy.id == principal.tenant_id)
    if principal.role == OPS:
        return query
    if principal.role == CONTRACTOR and principal.contractor_id:
        return query.where(Property.id.in_(_contractor_property_ids(principal.contractor_id)))
    # Never compare with NULL: "contractor_id IS NULL" would list every unassigned ticket's.
    return query.where(sa.false())


def _contractor_property_ids(contractor_id):
    """Properties where the contractor's firm has an assigned ticket."""
    from portal.tickets.models import Ticket  # the tickets area owns this relation
    return db.select(Ticket.property_id).where(Ticket.contractor_id == contractor_id)


def visible_tenancies(principal):
    """A query of the tenancies the caller may see (contractors see none)."""
    query = db.select(Tenancy)
    if principal.role == LANDLORD:
        return query.where(Tenancy.landlord_id == principal.landlord_id)
    if principal.role == TENANT:
        return query.where(Tenancy.id == principal.tenant_id)
    if principal.role == OPS:
        return query
    return query.where(sa.false())


def list_properties(principal):
    """The caller's visible properties, by name."""
    return db.session.execute(visible_properties(principal).order_by(Property.name, Property.id)
                              ).scalars().all()


def list_tenancies(principal):
    """The caller's visible tenancies, newest start first."""
    return db.session.execute(visible_tenancies(principal).order_by(
        Tenancy.start_date.desc(), Tenancy.id)).scalars().all()


def list_contractors(principal):
    """Contractor firms: every firm for landlords and OPS, its own firm for a contractor."""
    query = db.select(ContractorFirm).order_by(ContractorFirm.name, ContractorFirm.id)
    if principal.role in (LANDLORD, OPS):
        return db.session.execute(query).scalars().all()
    if principal.role == CONTRACTOR:
        return db.session.execute(
            query.where(ContractorFirm.id == principal.contractor_id)).scalars().all()
    raise Forbidden("Tenants cannot list contractor firms.")


def firm_names(firm_ids) -> dict:
    """{firm id: name} for these contractor firms (a ticket's parties may all see its firm)."""
    ids = sorted({firm_id for firm_id in firm_ids if firm_id})
    if not ids:
        return {}
    return dict(db.session.execute(
        db.select(ContractorFirm.id, ContractorFirm.name).where(ContractorFirm.id.in_(ids))).all())
