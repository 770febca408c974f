"""Directory response bodies."""
from marshmallow import fields

from portal.fields import Money
from portal.schemas import Schema, page_schema


class PropertySchema(Schema):
    id = fields.String()
    landlord_id = fields.String()
    name = fields.String()
    address = fields.String()


class TenancySchema(Schema):
    id = fields.String()
    landlord_id = fields.String()
    property_id = fields.String()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)
    monthly_rent = Money()


class ContractorSchema(Schema):
    id = fields.String()
    name = fields.String()
    trade = fields.String(allow_none=True)


PropertyListSchema = page_schema(PropertySchema, "PropertyList")
TenancyListSchema = page_schema(TenancySchema, "TenancyList")
ContractorListSchema = page_schema(ContractorSchema, "ContractorList")
