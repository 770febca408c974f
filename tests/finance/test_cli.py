"""``flask finance simulate-payment``, in process and over real HTTP, and the documented flow."""
import json
import threading

from werkzeug.serving import make_server

from tests.helpers import free_port
from tests.finance.conftest import SECRET, invoice_row, payments_of


def _json_of(output: str) -> dict:
    return json.loads(output.split("\n", 1)[1])


def test_simulate_payment_local(app, invoice, celery_worker):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["finance", "simulate-payment", invoice["id"], "--amount",
                                 "1500.00", "--provider-ref", "sim_1", "--local"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("HTTP 200\n")
    body = _json_of(result.output)
    assert body["invoice"] == {"id": invoice["id"], "status": "PAID", "amountPaid": 1500.00}
    assert [p.provider_ref for p in payments_of(app, invoice["id"])] == ["sim_1"]
    again = runner.invoke(args=["finance", "simulate-payment", invoice["id"], "--amount",
                                "1500.00", "--provider-ref", "sim_1", "--local"])
    assert _json_of(again.output)["duplicate"] is True


def test_simulate_payment_refuses_bad_amounts(app, invoice):
    runner = app.test_cli_runner()
    for amount in ("abc", "1.001", "NaN"):
        result = runner.invoke(args=["finance", "simulate-payment", invoice["id"],
                                     "--amount", amount, "--local"])
        assert result.exit_code == 2 and "--amount" in result.output


def test_simulate_payment_over_http_reports_errors(app, invoice, celery_worker):
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        runner = app.test_cli_runner()
        result = runner.invoke(args=["finance", "simulate-payment", invoice["id"], "--amount",
                                     "400", "--url", f"http://127.0.0.1:{port}"])
        assert result.exit_code == 0, result.output
        assert _json_of(result.output)["invoice"]["status"] == "PARTIALLY_PAID"
        unknown = runner.invoke(args=["finance", "simulate-payment", "inv_nope", "--amount", "1",
                                      "--url", f"http://127.0.0.1:{port}"])
        assert unknown.exit_code == 1 and unknown.output.startswith("HTTP 422")
        unsigned = runner.invoke(args=["finance", "simulate-payment", invoice["id"], "--amount",
                                       "1", "--unsigned", "--url", f"http://127.0.0.1:{port}"])
        assert unsigned.exit_code == 1 and unsigned.output.startswith("HTTP 401")
    finally:
        server.shutdown()
    assert invoice_row(app, invoice["id"]).amount_paid == 400


def test_documented_curl_flow_shapes(client, app, demo, celery_worker):
    """docs/finance.md: log in, create an invoice, post a signed payment, list payments."""
    login = client.post("/api/auth/login", json={"email": "landlord@example.com",
                                                 "password": "password123"}).get_json()
    headers = {"Authorization": "Bearer " + login["accessToken"]}
    created = client.post("/api/finance/invoices", headers=headers, json={
        "tenancyId": demo["ten1"], "issueDate": "2025-11-01", "dueDate": "2025-11-15",
        "lines": [{"description": "Rent November", "qty": 1, "unitPrice": 1500.00,
                   "taxRate": 0}]})
    assert created.status_code == 201
    invoice = created.get_json()
    assert invoice["number"] == "INV-2025-000001" and invoice["amount"] == 1500.00
    from portal.finance import signature
    body = json.dumps({"invoiceId": invoice["id"], "amount": 1500.00,
                       "paidAt": "2025-11-06T09:00:00Z", "providerRef": "pi_3Nx",
                       "provider": "stripe"}).encode()
    paid = client.post("/api/finance/payments/webhook", data=body,
                       content_type="application/json",
                       headers={"Webhook-Signature": signature.sign(SECRET, body)})
    assert paid.status_code == 200
    result = paid.get_json()
    assert result == {"success": True, "duplicate": False,
                      "payment": {"id": result["payment"]["id"], "invoiceId": invoice["id"],
                                  "amount": 1500.00, "status": "CONFIRMED"},
                      "invoice": {"id": invoice["id"], "status": "PAID", "amountPaid": 1500.00}}
    for name in ("landlord", "tenant"):
        login = client.post("/api/auth/login", json={"email": f"{name}@example.com",
                                                     "password": "password123"}).get_json()
        listed = client.get(f"/api/finance/payments?invoiceId={invoice['id']}",
                            headers={"Authorization": "Bearer " + login["accessToken"]})
        assert listed.status_code == 200
        [payment] = listed.get_json()["items"]
        assert listed.get_json()["nextCursor"] is None
        assert payment == {"id": result["payment"]["id"], "invoiceId": invoice["id"],
                           "amount": 1500.00, "amountRefunded": 0.00, "currency": "GBP",
                           "status": "CONFIRMED", "provider": "stripe", "providerRef": "pi_3Nx",
                           "paidAt": "2025-11-06T09:00:00Z", "createdAt": payment["createdAt"]}
        assert payment["createdAt"].endswith("Z")

