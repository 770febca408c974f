"""Assigning the firm a ticket already has changes nothing (found by fuzzing: it was a 500)."""


def test_assigning_the_same_firm_again_is_a_harmless_no_op(client, auth, demo, file_ticket):
    ticket = file_ticket()
    url = f"/api/tickets/{ticket['id']}/assign"
    first = client.post(url, json={"contractorId": demo["ctr"]}, headers=auth("landlord"))
    assert first.status_code == 200 and first.get_json()["version"] == 2
    again = client.post(url, json={"contractorId": demo["ctr"]}, headers=auth("ops"))
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    timeline = client.get(f"/api/tickets/{ticket['id']}/timeline",
                          headers=auth("landlord")).get_json()
    assert [entry["eventType"] for entry in timeline] == ["created", "assigned"]
