"""A client that stops reading is cut loose: its connection is shut, the others keep flowing."""
import json
import socket
import time

import pytest

from portal.events.redis_stream import stream_key
from tests.integration.events_stack import running_stack

QUEUE = 20


@pytest.fixture(scope="module")
def stack(app, demo, database_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("slow-stack"), database_url,
                       SSE_QUEUE_SIZE=QUEUE) as stack:
        yield stack


def _server_side_state(server_port, client_port):
    """The TCP state of the server's end of this connection, read from /proc/net/tcp."""
    states = {"01": "ESTABLISHED", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
              "07": "CLOSE", "08": "CLOSE_WAIT", "0B": "CLOSING"}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if local_port == server_port and remote_port == client_port:
                    return states.get(fields[3], fields[3])
    return None


def _open_silent_stream(stack, token):
    """A stream whose client never reads, with a tiny receive buffer so the server backs up."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", stack.port))
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                 f"Accept: text/event-stream\r\n\r\n".encode())
    return sock


def test_a_client_that_stops_reading_is_disconnected_without_slowing_others(stack, demo):
    _user, body, _cookies = stack.login("ops")
    silent = _open_silent_stream(stack, body["accessToken"])
    fast = stack.connect("ops")
    time.sleep(1)  # both streams subscribed in their workers
    client_port = silent.getsockname()[1]
    assert _server_side_state(stack.port, client_port) == "ESTABLISHED"

    payload = json.dumps({"id": "evt_x", "pad": "p" * 8000})
    with stack.ctx():
        key = stream_key()
    conn = stack.redis()
    # ~5 MB in rounds the reading client keeps up with (each round is under its queue size),
    # more than the silent client's socket buffers and queue together can hold.
    for _round in range(60):
        pipe = conn.pipeline()
        for _n in range(QUEUE // 2):
            pipe.xadd(key, {"t": "ticket.test", "a": "role:OPS", "d": payload})
        last_id = pipe.execute()[-1]
        # The reading client gets every round, however far behind the silent one is.
        fast.wait_for(lambda frame: frame["id"] == last_id, timeout=30, what=last_id)

    def state():
        return _server_side_state(stack.port, client_port)
    deadline = time.monotonic() + 30
    while state() == "ESTABLISHED" and time.monotonic() < deadline:
        time.sleep(0.2)
    # The server shut its end: no longer an open, established stream waiting on this client.
    assert state() != "ESTABLISHED"
    silent.close()
