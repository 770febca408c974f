"""list indexes: each party's newest-first lists walk an index led by the owner column

Revision ID: 0006
Revises: 0005
"""
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = (
    ("tickets", "ix_tickets_landlord_created", ["landlord_id", "created_at", "id"]),
    ("tickets", "ix_tickets_landlord_status_created", ["landlord_id", "status", "created_at", "id"]),
    ("tickets", "ix_tickets_tenant_created", ["tenant_id", "created_at", "id"]),
    ("tickets", "ix_tickets_contractor_created", ["contractor_id", "created_at", "id"]),
    ("invoices", "ix_invoices_landlord_created", ["landlord_id", "created_at", "id"]),
    ("invoices", "ix_invoices_tenancy_created", ["tenancy_id", "created_at", "id"]),
    ("users", "ix_users_role", ["role"]),
)


def upgrade():
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
