"""Finance under a tenancy: how its rent is billed, and its statement (JSON or CSV)."""
from flask import Response, request

from portal.auth.principal import caller
from portal.finance import rent, statement
from portal.finance.schemas import (RentBillingInputSchema, RentBillingSchema,
                                    StatementArgsSchema, StatementSchema)
from portal.finance.views import FinanceBlueprint, _finance_role

blp = FinanceBlueprint("tenancy_finance", __name__, url_prefix="/api/tenancies",
                       description="Rent billing and statements of a tenancy")


@blp.route("/<tenancy_id>/billing", methods=["GET"])
@_finance_role
@blp.response(200, RentBillingSchema)
def get_billing(tenancy_id):
    """How the tenancy's rent is billed (the defaults until its landlord sets them)."""
    return rent.get_billing(caller(), tenancy_id)


@blp.route("/<tenancy_id>/billing", methods=["POST"])
@_finance_role
@blp.arguments(RentBillingInputSchema)
@blp.response(200, RentBillingSchema)
def set_billing(body, tenancy_id):
    """Set the due day (1–28), the lead days and whether the beat bills the rent."""
    return rent.set_billing(caller(), tenancy_id, body)


@blp.route("/<tenancy_id>/statement", methods=["GET"])
@_finance_role
@blp.arguments(StatementArgsSchema, location="query")
@blp.response(200, StatementSchema)
@blp.doc(responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def get_statement(args, tenancy_id):
    """Every charge, fee, payment and refund with a running balance; CSV with Accept: text/csv."""
    result = statement.tenancy_statement(caller(), tenancy_id, args["from_"], args["to"])
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        return Response(statement.to_csv(result),
                        mimetype="text/csv", headers={
                            "Content-Disposition": f'attachment; filename="{tenancy_id}.csv"'})
    return result
