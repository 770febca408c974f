"""The migration chain builds the schema the models describe, on SQLite and PostgreSQL."""
import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal import create_app
from portal.extensions import db
from tests.helpers import config_for


def _differences(app):
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)


def test_migrated_database_matches_the_models(app):
    # The session database was built by `upgrade heads` (SQLite, or PostgreSQL in CI).
    assert _differences(app) == []


def test_chain_upgrades_an_empty_sqlite_database(tmp_path, redis_url):
    app = create_app("testing", config_for(f"sqlite:///{tmp_path / 'empty.db'}", redis_url))
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        tables = set(sa.inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert _differences(app) == []


def test_single_head(app):
    from alembic.script import ScriptDirectory
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads


def test_tickets_filed_before_response_times_get_a_due_at(tmp_path, redis_url):
    app = create_app("testing", config_for(f"sqlite:///{tmp_path / 'old.db'}", redis_url))
    with app.app_context():
        flask_migrate.upgrade(revision="0008_money")
        with db.engine.begin() as conn:
            stamp = "'2025-01-01 10:00:00.000000'"
            for statement in (
                    f"INSERT INTO landlords VALUES ('ll_x', 'L', {stamp}, {stamp})",
                    f"INSERT INTO properties VALUES ('prop_x', 'll_x', 'P', 'A', {stamp}, {stamp})",
                    "INSERT INTO tenancies (id, landlord_id, property_id, start_date, "
                    f"monthly_rent, created_at, updated_at) VALUES ('ten_x', 'll_x', 'prop_x', "
                    f"'2025-01-01', 100, {stamp}, {stamp})"):
                conn.exec_driver_sql(statement)
            for ticket_id, priority in (("tkt_a", "URGENT"), ("tkt_b", "LOW")):
                conn.execute(sa.text(
                    "INSERT INTO tickets (id, landlord_id, tenant_id, property_id, title, "
                    "description, priority, status, version, created_at, updated_at) VALUES "
                    "(:id, 'll_x', 'ten_x', 'prop_x', 't', 'd', :priority, 'OPEN', 1, "
                    "'2025-01-01 10:00:00.000000', '2025-01-01 10:00:00.000000')"),
                    {"id": ticket_id, "priority": priority})
        flask_migrate.upgrade(revision="heads")
        with db.engine.connect() as conn:
            due = dict(conn.execute(sa.text("SELECT id, due_at FROM tickets")).all())
    assert due == {"tkt_a": "2025-01-02 10:00:00.000000", "tkt_b": "2025-01-15 10:00:00.000000"}
