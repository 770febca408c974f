"""Under gevent (as gunicorn runs us) a PostgreSQL query must not block the other greenlets."""
import os
import subprocess
import sys
import textwrap

import pytest

from tests.integration.processes import ROOT

SCRIPT = textwrap.dedent("""
    from gevent import monkey; monkey.patch_all()
    import sys, gevent, psycopg
    url = sys.argv[1]
    in_flight, seen_during_query = [False], []

    def query():
        with psycopg.connect(url) as conn:
            in_flight[0] = True
            conn.execute("SELECT pg_sleep(0.5)")
            in_flight[0] = False

    def other():
        for _ in range(100):
            seen_during_query.append(in_flight[0])
            gevent.sleep(0.01)

    gevent.joinall([gevent.spawn(query), gevent.spawn(other)])
    print(sum(seen_during_query))
""")


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
                    reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_psycopg_yields_to_other_greenlets_while_waiting():
    url = os.environ["TEST_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    result = subprocess.run([sys.executable, "-c", SCRIPT, url], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    # Another greenlet ran while the query was waiting on the server: the driver yielded.
    assert int(result.stdout.strip()) > 0
