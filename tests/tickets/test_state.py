"""The pure state machine against the contract's table (tests/tickets/oracle.py), and docs/tickets.md against the code."""
import os

import pytest

from portal.tickets import state
from tests.tickets import oracle

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "tickets.md")


@pytest.mark.parametrize("role", oracle.ROLES)
@pytest.mark.parametrize("current", oracle.STATUSES)
@pytest.mark.parametrize("to", oracle.STATUSES)
def test_status_changes_match_the_spec(role, current, to):
    expected = {200: state.Verdict.ALLOWED, 403: state.Verdict.WRONG_ROLE,
                409: state.Verdict.INVALID}[oracle.expected_status_change(role, current, to)]
    assert state.decide(state.STATUS, role, current, to) is expected


@pytest.mark.parametrize("call", sorted(oracle.ACTIONS))
@pytest.mark.parametrize("role", oracle.ROLES)
@pytest.mark.parametrize("current", oracle.STATUSES)
def test_actions_match_the_spec(call, role, current):
    expected = {200: state.Verdict.ALLOWED, 403: state.Verdict.WRONG_ROLE,
                409: state.Verdict.INVALID}[oracle.expected_action(call, role, current)]
    target = {"assign": None, "quote": "QUOTED", "approve": "APPROVED"}[call]
    assert state.decide(call, role, current, target) is expected


def test_terminal_statuses_allow_nothing():
    for role in oracle.ROLES:
        assert state.allowed_moves(role, "AUDITED") == []
        assert state.allowed_moves(role, "CANCELLED") == []


def test_names_recorded_for_each_call():
    assert state.names("status", "COMPLETED") == ("completed", "ticket.completed")
    assert state.names("status", "CANCELLED") == ("cancelled", "ticket.status_changed")
    assert state.names("status", "AUDITED") == ("audited", "ticket.status_changed")
    assert state.names("status", "IN_PROGRESS") == ("status_changed", "ticket.status_changed")
    assert state.names("quote", "QUOTED") == ("quote_submitted", "ticket.quote_submitted")
    assert state.names("approve", "APPROVED") == ("approved", "ticket.approved")
    assert state.names("assign", None) == ("assigned", "ticket.assigned")


def test_docs_show_the_tables_the_code_uses():
    with open(DOCS, encoding="utf-8") as handle:
        text = handle.read()
    assert state.state_table() in text
    assert state.role_matrix() in text


def test_cli_prints_the_state_table(app):
    result = app.test_cli_runner().invoke(args=["tickets", "state-table"])
    assert result.exit_code == 0, result.output
    assert result.output == state.state_table() + "\n" + state.role_matrix()
    tenant_cancel = "| OPEN, TRIAGED | CANCELLED | `PATCH /api/tickets/{id}/status` | TENANT |"
    assert tenant_cancel in result.output
