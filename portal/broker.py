"""The Celery broker transport: kombu's Redis transport, made safe to close after Redis is gone.

When Redis dies under a worker, celery's consumer first ``collect()``s the broker connection,
which detaches the transport from it, then ``close()``s it. If the channel's close during
collect was cut short by the dead socket, the second close restores the unacknowledged
messages (``task_acks_late`` nearly always leaves some) through a new client built from the
detached transport's settings: ``AttributeError: 'NoneType' object has no attribute
'hostname'``, which celery treats as unrecoverable, and the worker exits with code 1. kombu
5.7.0 and its main branch both do this.

Here that client cannot be built because the broker connection is gone, and that is what is
raised: a connection error, which the close ignores, and celery reconnects. The messages that
could not be put back are not lost to the portal: a Redis that kept its data restores them
after the visibility timeout, and for one that restarted empty the beat re-sends what is still
undone (the outbox relay, the webhook requeue).
"""
import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    """A Redis channel that reuses one client for its commands, and refuses to build clients
    once its transport is detached."""

    _client = None

    def _create_client(self, asynchronous=False):
        """kombu builds a new ``redis.Redis`` for every command it sends outside the consumer's
        connection (each task published, for one), and redis-py's constructor fills a table of
        about 170 response callbacks each time: a third of a publish's CPU. A client only draws
        connections from the channel's pool and is safe to share between threads, so one is
        kept for as long as that pool is the channel's."""
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self._client
        if client is None or client.connection_pool is not pool:
            client = self._client = super()._create_client()
        return client

    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError(
                "the broker connection was closed; the channel cannot reconnect")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above (``broker_transport`` in config.py)."""

    Channel = Channel
