"""SSE framing: bytes exactly as docs/events.md shows them."""
import json

from portal.events import sse


def test_opening_is_retry_then_connected():
    text = sse.opening(3000).decode()
    assert text == ('retry: 3000\n\n'
                    'data: {"type":"connected","data":{"message":"Connected to event stream"}}\n\n')


def test_event_frame_carries_the_stream_id_and_the_envelope_on_one_data_line():
    envelope = {"id": "evt_1", "type": "ticket.created", "resources": [{"type": "ticket",
                                                                         "id": "tkt_1"}]}
    frame = sse.event_frame(b"1730883600000-0", b"ticket.created",
                            json.dumps(envelope, separators=(",", ":")).encode())
    lines = frame.decode().split("\n")
    assert lines[0] == "id: 1730883600000-0" and lines[2:] == ["", ""]
    assert json.loads(lines[1][len("data: "):]) == {"type": "ticket.created", "data": envelope}


def test_notices_have_no_id_so_clients_keep_their_last_event_id():
    for frame in (sse.RESYNC, sse.closing("token_expiring"), sse.closing("session_revoked")):
        assert frame.startswith(b"data: {") and b"id:" not in frame and frame.endswith(b"\n\n")
    assert json.loads(sse.RESYNC[6:]) == {"type": "resync"}
    assert sse.PING == b": ping\n\n"


def test_entry_ids_parse_and_compare_in_stream_order():
    assert sse.parse_entry_id("1730883600000-12") == (1730883600000, 12)
    assert sse.parse_entry_id(b"5-0") < sse.parse_entry_id("5-1") < sse.parse_entry_id("6-0")
    for bad in ("", "abc", "1-", "-1", "1-x", "1 -0", None, "9" * 30 + "-0",
                "18446744073709551616-0", "1-18446744073709551616", "\u0661-0", "1-\u00b2"):
        assert sse.parse_entry_id(bad) is None
    assert sse.entry_ms(b"1730883600000-3") == 1730883600000
    top = sse.parse_entry_id(" 18446744073709551615-18446744073709551615 ")
    assert sse.format_entry_id(top) == "18446744073709551615-18446744073709551615"
