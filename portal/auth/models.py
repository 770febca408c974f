"""Users and their roles."""
import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from portal.database import TimestampMixin, id_column, one_of
from portal.extensions import db
from portal.roles import ROLES


class User(TimestampMixin, db.Model):
    """A person who logs in; belongs to one landlord, tenancy or contractor firm (or OPS)."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(one_of("role", ROLES), name="role"),
    )
    id = id_column("usr")
    email = sa.Column(sa.String(254), nullable=False, unique=True)
    name = sa.Column(sa.String(200), nullable=False)
    role = sa.Column(sa.String(20), nullable=False, index=True)
    password_hash = sa.Column(sa.String(256), nullable=False)
    landlord_id = sa.Column(sa.String(40), sa.ForeignKey("landlords.id"), nullable=True, index=True)
    tenant_id = sa.Column(sa.String(40), sa.ForeignKey("tenancies.id"), nullable=True, index=True)
    contractor_id = sa.Column(sa.String(40), sa.ForeignKey("contractors.id"), nullable=True,
                              index=True)

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password."""
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)


class RevokedSession(db.Model):
    """A logged-out login session, kept until its refresh token would have expired.

    Redis holds the copy every request checks; this row is what survives a Redis restart
    without persistence (portal/auth/revocations.py puts it back).
    """

    __tablename__ = "revoked_sessions"
    session_id = sa.Column(sa.String(64), primary_key=True)
    revoked_at = sa.Column(sa.DateTime, nullable=False)
    expires_at = sa.Column(sa.DateTime, nullable=False, index=True)
