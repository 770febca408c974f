"""Organisations and places: landlords, properties, tenancies, contractor firms."""
import sqlalchemy as sa

from portal.database import TimestampMixin, id_column
from portal.money import Money
from portal.extensions import db


class Landlord(TimestampMixin, db.Model):
    """A landlord organisation; its users manage its properties."""

    __tablename__ = "landlords"
    id = id_column("ll")
    name = sa.Column(sa.String(200), nullable=False)


class Property(TimestampMixin, db.Model):
    """A rentable property owned by one landlord."""

    __tablename__ = "properties"
    id = id_column("prop")
    landlord_id = sa.Column(sa.String(40), sa.ForeignKey("landlords.id"), nullable=False, index=True)
    name = sa.Column(sa.String(200), nullable=False)
    address = sa.Column(sa.String(500), nullable=False)


class Tenancy(TimestampMixin, db.Model):
    """A household renting one property (``tenantId`` on tickets, ``tenancyId`` on invoices)."""

    __tablename__ = "tenancies"
    id = id_column("ten")
    landlord_id = sa.Column(sa.String(40), sa.ForeignKey("landlords.id"), nullable=False, index=True)
    property_id = sa.Column(sa.String(40), sa.ForeignKey("properties.id"), nullable=False, index=True)
    start_date = sa.Column(sa.Date, nullable=False)
    end_date = sa.Column(sa.Date, nullable=True)
    monthly_rent = sa.Column(Money, nullable=False)


class ContractorFirm(TimestampMixin, db.Model):
    """A contractor firm that landlords assign tickets to."""

    __tablename__ = "contractors"
    id = id_column("ctr")
    name = sa.Column(sa.String(200), nullable=False)
    trade = sa.Column(sa.String(100), nullable=True)
