"""Recurring rent: one invoice per tenancy and month, issued by the beat (or by hand with
``flask finance bill-rent``), and each tenancy's billing settings.

A month is billed once: the invoice carries its period (``YYYY-MM``), unique per tenancy in the
database, and the tenancy's row is locked while it is billed, so any number of runs, beats and
workers give one invoice per month with the gapless numbering of every invoice.
"""
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal.database import atomic, read_only, utcnow
from portal.directory.models import Tenancy
from portal.errors import Forbidden, NotFound
from portal.extensions import db
from portal.finance.models import Invoice, RentBilling
from portal.finance.schemas import DEFAULT_CURRENCY
from portal.finance.service import build_lines, issue_invoice, require_finance_role
from portal.roles import LANDLORD, TENANT

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def default_billing(tenancy_id: str) -> RentBilling:
    """The settings of a tenancy whose landlord has not set any: billed, on the defaults."""
    config = current_app.config
    # Kept to what a landlord may choose, whatever the settings say.
    return RentBilling(tenancy_id=tenancy_id, due_day=min(max(config["RENT_DUE_DAY"], 1), 28),
                       lead_days=min(max(config["RENT_LEAD_DAYS"], 0), 28), enabled=True)


def visible_tenancy(principal, tenancy_id) -> Tenancy:
    """The tenancy, if the caller is its landlord or its tenant; else 404 as if none existed."""
    require_finance_role(principal)
    tenancy = db.session.get(Tenancy, tenancy_id)
    if tenancy is None or not (
            (principal.role == LANDLORD and tenancy.landlord_id == principal.landlord_id)
            or (principal.role == TENANT and tenancy.id == principal.tenant_id)):
        raise NotFound("No such tenancy.")
    return tenancy


def get_billing(principal, tenancy_id) -> RentBilling:
    """A tenancy's rent billing settings (its landlord and its tenant may read them)."""
    tenancy = visible_tenancy(principal, tenancy_id)
    return db.session.get(RentBilling, tenancy.id) or default_billing(tenancy.id)


def set_billing(principal, tenancy_id, data: dict) -> RentBilling:
    """Set how a tenancy's rent is billed (its landlord only)."""
    with atomic(keep_loaded=True):
        tenancy = visible_tenancy(principal, tenancy_id)
        if principal.role != LANDLORD:
            raise Forbidden("Only the landlord sets how rent is billed.")
        billing = db.session.get(RentBilling, tenancy.id)
        if billing is None:
            billing = default_billing(tenancy.id)
            db.session.add(billing)
        billing.due_day = data["due_day"]
        billing.enabled = data["enabled"]
        if data.get("lead_days") is not None:
            billing.lead_days = data["lead_days"]
        billing.updated_at = utcnow()
    return billing


def periods_due(run_date: date, due_day: int, lead_days: int) -> list:
    """``(period, issue date, due date)`` of each month whose billing window, from its issue
    date to its due date, holds ``run_date`` (this month's or next month's)."""
    found = []
    year, month = run_date.year, run_date.month
    for _ in range(2):
        due = date(year, month, due_day)
        issue = due - timedelta(days=lead_days)
        if issue <= run_date <= due:
            found.append((f"{year:04d}-{month:02d}", issue, due))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _covers(tenancy, due: date) -> bool:
    # Rent is billed for the months whose due date lies within the tenancy, never after it.
    return tenancy.start_date <= due and (tenancy.end_date is None or due <= tenancy.end_date)


def bill_rent(run_date=None) -> list:
    """Issue every rent invoice whose billing window holds ``run_date`` (default today) and that
    does not exist yet; return the new invoices' ids."""
    run_date = run_date or utcnow().date()
    with read_only():
        rows = db.session.execute(
            sa.select(Tenancy, RentBilling)
            .outerjoin(RentBilling, RentBilling.tenancy_id == Tenancy.id)
            .where(Tenancy.monthly_rent > 0, Tenancy.start_date <= run_date + timedelta(days=60),
                   sa.or_(Tenancy.end_date.is_(None), Tenancy.end_date >= run_date),
                   sa.or_(RentBilling.enabled.is_(None), RentBilling.enabled.is_(True)))
            .order_by(Tenancy.landlord_id, Tenancy.start_date, Tenancy.id)).all()
        work = []
        for tenancy, billing in rows:
            billing = billing or default_billing(tenancy.id)
            for period, issue, due in periods_due(run_date, billing.due_day, billing.lead_days):
                if _covers(tenancy, due):
                    work.append((tenancy.id, period, issue, due))
    created = []
    for tenancy_id, period, issue, due in work:
        invoice_id = _bill_once(tenancy_id, period, issue, due)
        if invoice_id:
            created.append(invoice_id)
    return created


def _bill_once(tenancy_id, period, issue, due):
    """Issue one tenancy's rent for one period unless it exists; return the new id or None."""
    try:
        with atomic():
            # Runs billing the same tenancy queue here; the loser then finds the invoice.
            tenancy = db.session.execute(sa.select(Tenancy).where(Tenancy.id == tenancy_id)
                                         .with_for_update()).scalar_one()
            if db.session.execute(sa.select(Invoice.id).where(
                    Invoice.tenancy_id == tenancy_id, Invoice.rent_period == period)).first():
                return None
            year, month = (int(part) for part in period.split("-"))
            lines = build_lines([{"description": f"Rent – {MONTHS[month - 1]} {year}",
                                  "qty": 1, "unit_price": tenancy.monthly_rent, "tax_rate": 0}])
            invoice = issue_invoice(tenancy, issue, due, DEFAULT_CURRENCY, lines, None,
                                    rent_period=period)
            invoice_id = invoice.id
        return invoice_id
    except IntegrityError:
        return None  # the unique (tenancy, period) key: another run billed it first
