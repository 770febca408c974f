"""Directory reads are scoped to what each role may see."""


def _ids(client, path, headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["nextCursor"] is None
    return {item["id"] for item in body["items"]}


def test_tenant_sees_its_own_property_and_tenancy(client, auth, demo):
    assert _ids(client, "/api/properties", auth("tenant")) == {demo["prop1"]}
    assert _ids(client, "/api/tenancies", auth("tenant")) == {demo["ten1"]}
    assert _ids(client, "/api/properties", auth("tenant2")) == {demo["prop2"]}
    assert _ids(client, "/api/tenancies", auth("tenant2")) == {demo["ten2"]}


def test_landlord_sees_its_own(client, auth, demo):
    assert _ids(client, "/api/properties", auth("landlord")) == {demo["prop1"]}
    assert _ids(client, "/api/tenancies", auth("landlord")) == {demo["ten1"]}
    assert _ids(client, "/api/tenancies", auth("landlord2")) == {demo["ten2"]}


def test_ops_sees_all(client, auth, demo):
    assert _ids(client, "/api/properties", auth("ops")) == {demo["prop1"], demo["prop2"]}
    assert _ids(client, "/api/tenancies", auth("ops")) == {demo["ten1"], demo["ten2"]}
    assert _ids(client, "/api/contractors", auth("ops")) == {demo["ctr"]}


def test_contractor_firms_are_listed_to_landlords_and_ops_only(client, auth, demo):
    assert _ids(client, "/api/contractors", auth("landlord")) == {demo["ctr"]}
    assert _ids(client, "/api/contractors", auth("contractor")) == {demo["ctr"]}
    for name in ("tenant", "tenant2"):
        response = client.get("/api/contractors", headers=auth(name))
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"


def test_contractor_sees_no_tenancies_and_no_unassigned_properties(client, auth):
    assert _ids(client, "/api/tenancies", auth("contractor")) == set()
    assert _ids(client, "/api/properties", auth("contractor")) == set()


def test_tenancy_shape(client, auth, demo):
    item = client.get("/api/tenancies", headers=auth("tenant")).get_json()["items"][0]
    assert item == {"id": demo["ten1"], "landlordId": demo["ll1"], "propertyId": demo["prop1"],
                    "startDate": "2025-01-01", "endDate": None, "monthlyRent": 1500.0}


def test_directory_needs_a_token(client):
    for path in ("/api/properties", "/api/tenancies", "/api/contractors"):
        assert client.get(path).status_code == 401


def test_a_contractor_principal_without_a_firm_sees_no_property(app, client, auth, demo):
    # "contractor_id IS NULL" would match every unassigned ticket's property.
    from portal.auth.principal import Principal
    from portal.directory import service

    client.post("/api/tickets", headers=auth("tenant"), json={
        "propertyId": demo["prop1"], "title": "Leak", "description": "Drips.",
        "priority": "LOW"})
    with app.app_context():
        orphan = Principal(user_id="usr_x", role="CONTRACTOR", contractor_id=None)
        assert service.list_properties(orphan) == []
        assert service.list_tenancies(orphan) == []
