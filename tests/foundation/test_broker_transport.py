"""The broker transport (portal/broker.py) against a real redis-server that dies under it.

The state the worker reaches when Redis dies while it waits in BRPOP: a channel holding
unacknowledged messages (``task_acks_late``), its transport already detached from the connection
by ``Connection.collect()`` (whose channel close the dead socket cut short), then closed. kombu's
own transport raises AttributeError there, which celery treats as unrecoverable (exit 1).
"""
import kombu
import redis
import pytest

from tests.helpers import start_redis

STOCK, PORTAL = "redis", "portal.broker:Transport"


def _channel_with_an_unacked_message(url, transport):
    conn = kombu.Connection(url, transport=transport, transport_options={"socket_timeout": 2})
    queue = kombu.Queue("q", routing_key="q")
    conn.Producer().publish({"n": 1}, routing_key="q", declare=[queue])
    received = []
    consumer = kombu.Consumer(conn.default_channel, queues=[queue],
                              callbacks=[lambda _body, message: received.append(message)])
    consumer.consume()
    conn.drain_events(timeout=5)
    assert len(received) == 1 and conn.default_channel.qos._delivered  # held, not acked
    return conn


def _lose_the_broker(conn, redis_proc):
    redis_proc.kill()
    redis_proc.wait(timeout=10)
    # What collect() does after its (cut short) channel close: the transport lets go of the
    # connection's settings.
    conn._do_close_transport()


def test_kombus_own_transport_crashes_closing_after_the_broker_went(tmp_path):
    """The crash this project carries a fix for; when kombu fixes it, portal/broker.py can go."""
    redis_proc, url = start_redis(tmp_path)
    conn = _channel_with_an_unacked_message(url, STOCK)
    _lose_the_broker(conn, redis_proc)
    with pytest.raises(AttributeError, match="hostname"):
        conn.close()


def test_the_portal_transport_closes_with_a_connection_error_it_ignores(tmp_path):
    redis_proc, url = start_redis(tmp_path)
    conn = _channel_with_an_unacked_message(url, PORTAL)
    _lose_the_broker(conn, redis_proc)
    conn.close()  # the restore fails as a connection error, which close() ignores
    assert conn._closed


def test_the_portal_channel_publishes_through_one_client_while_its_pool_lasts(tmp_path):
    """kombu's own channel builds a redis client for every publish; the portal's keeps one per
    connection pool, and a new pool (after a fork, or a reconnect) gets a new client."""
    redis_proc, url = start_redis(tmp_path)
    try:
        queue = kombu.Queue("q", routing_key="q")
        with kombu.Connection(url, transport=STOCK) as stock:
            assert stock.default_channel._create_client() is not \
                stock.default_channel._create_client()
        with kombu.Connection(url, transport=PORTAL) as conn:
            channel = conn.default_channel
            producer = conn.Producer(channel)
            client = channel._create_client()
            for n in range(20):
                producer.publish({"n": n}, routing_key="q", declare=[queue])
            assert channel._create_client() is client
            channel._disconnect_pools()
            producer.publish({"n": 20}, routing_key="q", declare=[queue])
            renewed = channel._create_client()
            assert renewed is not client and renewed.connection_pool is channel.pool
        assert redis.Redis.from_url(url).llen("q") == 21
    finally:
        redis_proc.kill()
        redis_proc.wait(timeout=10)
