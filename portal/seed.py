"""Demo data (the README's users); every password is ``password123``. Safe to run again."""
from datetime import date
from decimal import Decimal

from portal.auth.models import User
from portal.directory.models import ContractorFirm, Landlord, Property, Tenancy
from portal.extensions import db

PASSWORD = "password123"


def _get_or_create(model, lookup: dict, **values):
    row = db.session.execute(db.select(model).filter_by(**lookup)).scalars().first()
    if row is None:
        row = model(**lookup, **values)
        db.session.add(row)
        db.session.flush()
    return row


def _user(email, name, role, **org):
    existing = db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()
    if existing:
        return 0
    user = User(email=email, name=name, role=role, **org)
    user.set_password(PASSWORD)
    db.session.add(user)
    return 1


def seed_demo_data(only_if_empty=False) -> int:
    """Create the demo organisations and users that are missing; return users created."""
    if only_if_empty and db.session.execute(db.select(User.id).limit(1)).first():
        return 0
    ll1 = _get_or_create(Landlord, {"name": "Harbour Lettings"})
    ll2 = _get_or_create(Landlord, {"name": "Northside Homes"})
    p1 = _get_or_create(Property, {"landlord_id": ll1.id, "name": "12 Quay Street, Flat 3"},
                        address="12 Quay Street, Flat 3, Bristol BS1 4DB")
    p2 = _get_or_create(Property, {"landlord_id": ll2.id, "name": "7 Elm Row"},
                        address="7 Elm Row, Leeds LS6 2AB")
    t1 = _get_or_create(Tenancy, {"property_id": p1.id}, landlord_id=ll1.id,
                        start_date=date(2025, 1, 1), end_date=None,
                        monthly_rent=Decimal("1500.00"))
    t2 = _get_or_create(Tenancy, {"property_id": p2.id}, landlord_id=ll2.id,
                        start_date=date(2025, 3, 1), end_date=None,
                        monthly_rent=Decimal("1150.00"))
    firm = _get_or_create(ContractorFirm, {"name": "FixIt Plumbing & Repairs"}, trade="plumbing")
    created = sum((
        _user("landlord@example.com", "Lara Landlord", "LANDLORD", landlord_id=ll1.id),
        _user("landlord2@example.com", "Leo Landlord", "LANDLORD", landlord_id=ll2.id),
        _user("tenant@example.com", "Tess Tenant", "TENANT", tenant_id=t1.id),
        _user("tenant2@example.com", "Tom Tenant", "TENANT", tenant_id=t2.id),
        _user("contractor@example.com", "Carl Contractor", "CONTRACTOR", contractor_id=firm.id),
        _user("ops@example.com", "Olive Ops", "OPS"),
    ))
    db.session.commit()
    return created
