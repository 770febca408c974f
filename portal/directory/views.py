"""Directory endpoints: properties, tenancies, contractor firms."""
from flask_smorest import Blueprint

from portal.auth.principal import authenticated, caller
from portal.directory import service
from portal.directory.schemas import ContractorListSchema, PropertyListSchema, TenancyListSchema

blp = Blueprint("directory", __name__, url_prefix="/api", description="Who and where")


@blp.route("/properties", methods=["GET"])
@authenticated
@blp.response(200, PropertyListSchema)
def properties():
    """Properties the caller may see."""
    return {"items": service.list_properties(caller()), "next_cursor": None}


@blp.route("/tenancies", methods=["GET"])
@authenticated
@blp.response(200, TenancyListSchema)
def tenancies():
    """Tenancies the caller may see."""
    return {"items": service.list_tenancies(caller()), "next_cursor": None}


@blp.route("/contractors", methods=["GET"])
@authenticated
@blp.response(200, ContractorListSchema)
def contractors():
    """Contractor firms (landlords and OPS: all; a contractor: its own)."""
    return {"items": service.list_contractors(caller()), "next_cursor": None}
