"""Directory response bodies."""
from marshmallow import fields

from portal.database import iso, money_json
from portal.schemas import Schema, page_schema


class PropertySchema(Schema):
    id = fields.String()
    landlordId = fields.String(attribute="landlord_id")
    name = fields.String()
    address = fields.String()


class TenancySchema(Schema):
    id = fields.String()
    landlordId = fields.String(attribute="landlord_id")
    propertyId = fields.String(attribute="property_id")
    startDate = fields.Function(lambda t: iso(t.start_date))
    endDate = fields.Function(lambda t: iso(t.end_date), allow_none=True)
    monthlyRent = fields.Function(lambda t: money_json(t.monthly_rent))


class ContractorSchema(Schema):
    id = fields.String()
    name = fields.String()
    trade = fields.String(allow_none=True)


PropertyListSchema = page_schema(PropertySchema, "PropertyList")
TenancyListSchema = page_schema(TenancySchema, "TenancyList")
ContractorListSchema = page_schema(ContractorSchema, "ContractorList")
