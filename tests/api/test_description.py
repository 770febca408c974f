"""/api/openapi.json: valid OpenAPI, and complete enough for a generated client to type every
field, authenticate each call as it needs and send every header the API reads."""
import pytest
from openapi_spec_validator import validate

PUBLIC = {("post", "/api/auth/login"), ("post", "/api/auth/refresh"), ("get", "/api/health"),
          ("post", "/api/finance/payments/webhook"), ("post", "/api/finance/payments/webhook/stripe")}
WRITES = {"post", "put", "patch", "delete"}
ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def description(app):
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(description):
    for path, item in description["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path, operation


def header_names(description, operation):
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = description["components"]["parameters"][parameter["$ref"].split("/")[-1]]
        if parameter["in"] == "header":
            names.add(parameter["name"])
    return names


def walk(node):
    """Every dict inside ``node``, itself included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_the_description_is_valid_openapi_served_without_a_token(app, description):
    validate(description)
    assert description["openapi"].startswith("3.1")
    assert app.test_client().get("/api/openapi.json", headers={}).status_code == 200


def test_every_field_is_typed_with_real_limits(description):
    schemas = description["components"]["schemas"]
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            assert {"type", "$ref", "anyOf"} & set(prop), (name, field, prop)
    keys = {key for node in walk(description) for key in node}
    assert not {key for key in keys if key.startswith("x-")}
    assert schemas["Ticket"]["properties"]["createdAt"] == {"type": "string", "format": "date-time"}
    assert schemas["Tenancy"]["properties"]["startDate"] == {"type": "string", "format": "date"}
    assert schemas["Invoice"]["properties"]["amount"] == {"type": "number", "multipleOf": 0.01}
    assert schemas["LineInput"]["properties"]["qty"] == {
        "type": "number", "multipleOf": 0.001, "exclusiveMinimum": 0, "maximum": 1000000}
    assert schemas["LineInput"]["properties"]["taxRate"]["default"] == 0
    assert schemas["Quote"]["properties"]["amount"]["exclusiveMinimum"] == 0
    assert schemas["Ticket"]["properties"]["quote"] == {
        "anyOf": [{"$ref": "#/components/schemas/QuoteOut"}, {"type": "null"}]}


def test_response_schemas_say_what_is_always_there(description):
    schemas = description["components"]["schemas"]
    for name in ("Ticket", "Invoice", "Tenancy", "Notification", "User", "TicketList"):
        assert set(schemas[name]["required"]) == set(schemas[name]["properties"]), name
        assert "additionalProperties" not in schemas[name]  # answers may gain fields
    assert "details" not in schemas["ErrorBody"]["required"]
    assert schemas["WebhookResult"]["required"] == ["duplicate", "success"]
    assert schemas["TicketCreate"]["additionalProperties"] is False  # inputs may not


def test_each_operation_says_how_it_authenticates(description):
    for method, path, operation in operations(description):
        if (method, path) in PUBLIC:
            assert operation["security"] == [], path
        else:
            assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}], path
    assert "security" not in description


def test_every_header_the_api_reads_is_declared(description):
    for method, path, operation in operations(description):
        headers = header_names(description, operation)
        if method in WRITES and (method, path) not in PUBLIC:
            assert "X-CSRF-TOKEN" in headers, path
        if method == "post" and (method, path) not in PUBLIC:
            assert "Idempotency-Key" in headers, path
    paths = description["paths"]
    assert header_names(description, paths["/api/events"]["get"]) == {"Last-Event-ID"}
    webhook = paths["/api/finance/payments/webhook"]["post"]
    assert {"Webhook-Signature", "Prefer"} <= header_names(description, webhook)
    assert webhook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookPayment"}
    assert "X-CSRF-TOKEN" in header_names(description, paths["/api/auth/refresh"]["post"])


def test_every_error_answer_has_the_error_shape(description):
    responses = description["components"]["responses"]
    for method, path, operation in operations(description):
        statuses = set(operation["responses"])
        assert {"503", "default"} <= statuses, path
        if (method, path) not in PUBLIC:
            assert {"401", "403"} <= statuses, path
        if method in WRITES:
            assert {"400", "413", "422"} <= statuses, path
        for status, response in operation["responses"].items():
            if status.startswith(("2", "3")):
                continue
            if (method, path, status) == ("get", "/api/health", "503"):
                # Health's 503 is its own report of which part is down.
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Health"}
                continue
            body = responses[response["$ref"].split("/")[-1]]
            assert body["content"]["application/json"]["schema"] == ERROR, (path, status)
    login = description["paths"]["/api/auth/login"]["post"]["responses"]
    assert "Retry-After" in responses[login["429"]["$ref"].split("/")[-1]]["headers"]


def test_a_query_value_over_its_described_length_is_refused(client, auth, description):
    """What the description says is too long, the API refuses (and names the parameter)."""
    checked = 0
    for method, path, operation in operations(description):
        if method != "get" or "{" in path:
            continue
        for parameter in operation.get("parameters", []):
            limit = parameter.get("schema", {}).get("maxLength")
            if parameter.get("in") != "query" or limit is None:
                continue
            response = client.get(path, query_string={parameter["name"]: "a" * (limit + 1)},
                                  headers=auth("landlord"))
            assert response.status_code == 422, (path, parameter["name"])
            error = response.get_json()["error"]
            assert parameter["name"] in error["details"]
            assert error["message"] == "The request query string is not valid."
            checked += 1
    assert checked >= 6
