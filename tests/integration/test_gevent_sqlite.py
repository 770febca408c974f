"""Under gevent, a request waiting for SQLite's write lock must let the holder finish."""
import subprocess
import sys
import textwrap

from tests.integration.processes import ROOT

SCRIPT = textwrap.dedent("""
    from gevent import monkey; monkey.patch_all()
    import sys, gevent, sqlalchemy as sa
    from portal.database import configure_sqlite
    engine = sa.create_engine("sqlite:///" + sys.argv[1])
    configure_sqlite(engine, wait_s=10)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")

    def holder():
        with engine.begin() as conn:  # takes the write lock, then yields (as on a Redis call)
            conn.exec_driver_sql("UPDATE counter SET n = n + 1")
            gevent.sleep(0.3)

    def waiter():
        gevent.sleep(0.05)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE counter SET n = n + 10")

    gevent.joinall([gevent.spawn(holder), gevent.spawn(waiter)], raise_error=True)
    with engine.connect() as conn:
        print(conn.exec_driver_sql("SELECT n FROM counter").scalar())
""")


def test_waiting_for_the_sqlite_write_lock_yields_to_the_holder(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "lock.db")],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "11"  # both transactions committed, one after the other
