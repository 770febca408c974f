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
