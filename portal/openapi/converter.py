"""How marshmallow schemas become JSON Schema in /api/openapi.json (OpenAPI 3.1).

apispec does most of it; this converter adds what it leaves out:
- exact numbers (money included) carry ``multipleOf`` (0.01 for money) and real limits, with
  ``exclusiveMinimum`` where the validator excludes its bound;
- input text says it may not hold NUL (no column can store it; the API answers 422), and text
  that must not be blank says so too;
- a query parameter is absent or has a value, never null (no ``null`` type, enum value or default);
- a response schema lists every field as ``required`` (every field is always in the answer, as
  ``null`` when it has no value) unless the field is declared ``metadata={"optional": True}``,
  and allows fields it does not list (answers may gain fields; inputs may not).
"""
from decimal import Decimal

from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from apispec.ext.marshmallow.common import resolve_schema_instance
from apispec.ext.marshmallow.field_converter import make_type_list
from marshmallow import validate

from portal.fields import ExactNumber
from portal.schemas import InputSchema, NotBlank, Schema

OPTIONAL = "optional"


def exact_number_step(field, **_kwargs) -> dict:
    """``multipleOf``: an ExactNumber takes at most ``max_places`` decimals (money: 0.01)."""
    if isinstance(field, ExactNumber):
        return {"multipleOf": float(Decimal(1).scaleb(-field.max_places))}
    return {}


def exclusive_bounds(field, ret, **_kwargs) -> dict:
    """Turn ``minimum``/``maximum`` into ``exclusiveMinimum``/``exclusiveMaximum`` (3.1: the
    bound itself) when the validator that sets the bound excludes it."""
    changes = {}
    for validator in field.validators:
        if not isinstance(validator, validate.Range):
            continue
        for bound, inclusive, inclusive_key, exclusive_key in (
                (validator.min, validator.min_inclusive, "minimum", "exclusiveMinimum"),
                (validator.max, validator.max_inclusive, "maximum", "exclusiveMaximum")):
            if bound is None or inclusive or inclusive_key not in ret:
                continue
            value = field._serialize(bound, None, None)
            if ret[inclusive_key] == value:
                ret.pop(inclusive_key)
                changes[exclusive_key] = value
    return changes


# ECMA and Python regular expressions alike: any text without a NUL character; the same with at
# least one character that is not whitespace.
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _schema_of(field):
    """The schema a (possibly inner) field is bound to."""
    parent = field.parent
    while parent is not None and not isinstance(parent, Schema):
        parent = getattr(parent, "parent", None)
    return parent


def storable_text(field, ret, **_kwargs) -> dict:
    """``pattern`` excluding NUL (and blank text, where refused) on free input text (not on
    enums, formats or patterns)."""
    typed = {"pattern", "format", "enum"} & set(ret)
    free_text = "string" in make_type_list(ret.get("type")) and not typed
    if free_text and isinstance(_schema_of(field), InputSchema):
        blank_refused = any(isinstance(v, NotBlank) for v in field.validators)
        return {"pattern": NOT_BLANK if blank_refused else NO_NUL}
    return {}


class PortalConverter(OpenAPIConverter):
    """apispec's converter with the portal's additions (see the module docstring)."""

    def init_attribute_functions(self):
        super().init_attribute_functions()
        self.attribute_functions.append(exact_number_step)
        self.attribute_functions.append(exclusive_bounds)
        self.attribute_functions.append(storable_text)

    def _field2parameter(self, field, *, name, location):
        parameter = super()._field2parameter(field, name=name, location=location)
        schema = parameter.get("schema", {})
        types = [t for t in make_type_list(schema.get("type")) if t != "null"]
        if types:
            schema["type"] = types[0] if len(types) == 1 else types
        if "enum" in schema:
            schema["enum"] = [value for value in schema["enum"] if value is not None]
        if schema.get("default", 0) is None:
            schema.pop("default")
        return parameter

    def schema2jsonschema(self, schema):
        jsonschema = super().schema2jsonschema(schema)
        instance = resolve_schema_instance(schema)
        if isinstance(instance, Schema) and not isinstance(instance, InputSchema):
            fields = instance.dump_fields.values()
            jsonschema["required"] = sorted(
                field.data_key for field in fields if not field.metadata.get(OPTIONAL))
            jsonschema.pop("additionalProperties", None)
            if not jsonschema["required"]:
                jsonschema.pop("required")
        return jsonschema


class PortalMarshmallowPlugin(MarshmallowPlugin):
    Converter = PortalConverter
