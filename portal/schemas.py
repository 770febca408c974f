"""Base schemas shared by every area: camelCase JSON over snake_case Python, strict input,
list envelopes, the error shape."""
from marshmallow import RAISE, Schema as _Schema, ValidationError, fields, missing, utils, validate
from marshmallow.decorators import POST_DUMP, PRE_DUMP


def camelcase(name: str) -> str:
    """``landlord_id`` → ``landlordId``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Schema(_Schema):
    """Fields are declared in snake_case, as the models and services name them; JSON (and the
    OpenAPI description, and validation messages) use camelCase."""

    def on_bind_field(self, field_name, field_obj):
        field_obj.data_key = camelcase(field_obj.data_key or field_name)

    def _serialize(self, obj, *, many=False):
        """marshmallow's dump, with the common fields' formatting done in one step: a page of
        50 tickets is 700 field dumps, and each goes through four calls (``serialize``,
        ``get_value``, the accessor, ``_serialize``) otherwise. Fields that are not plain
        strings, integers, nested schemas, lists of them or :func:`fast_format` ones take
        marshmallow's own path."""
        if obj is None or type(self).get_attribute is not _Schema.get_attribute:
            return super()._serialize(obj, many=many)
        plan = self.__dict__.get("_dump_plan")
        if plan is None:
            plan = self._dump_plan = [_plan_field(name, field)
                                      for name, field in self.dump_fields.items()]
        if many:
            return [self._dump_one(item, plan) for item in obj]
        return self._dump_one(obj, plan)

    def _dump_one(self, obj, plan):
        out = self.dict_class()
        # Where the fast path reads values: a dict's own keys (as marshmallow reads them), or
        # what an object holds itself, read without its class's descriptors (a mapped object's
        # loaded columns are there, and SQLAlchemy's attribute descriptor costs six times a
        # dict lookup; properties and what is not loaded yet are looked up as usual). Rows and
        # other sequences take marshmallow's accessor.
        if type(obj) is dict:
            held = obj
        elif hasattr(obj, "__getitem__"):
            held = None
        else:
            held = getattr(obj, "__dict__", _NOTHING)
        for key, attr, fmt, name, field_obj in plan:
            if fmt is not None and held is not None:
                value = held.get(attr, missing)
                if value is missing and held is not obj:
                    value = getattr(obj, attr, missing)
                if value is not missing:
                    out[key] = None if value is None else fmt(value)
                    continue
            value = field_obj.serialize(name, obj, accessor=self.get_attribute)
            if value is not missing:
                out[key] = value
        return out


_NOTHING = {}


def fast_format(formatter):
    """Mark a field class whose ``_serialize(value)`` is ``formatter(value)`` for any value
    but None (which dumps as None): the base Schema then calls it directly."""
    def mark(cls):
        cls.portal_fast_format = staticmethod(formatter)
        return cls
    return mark


def _plain_number(field):
    return None if field.as_string else int


def _iso_date(field):
    return None if field.format not in (None, "iso") else _date_isoformat


def _boolean(field):
    """True and False as they are; anything else through the field's own ``_serialize``."""
    def dump(value):
        return value if value is True or value is False else field._serialize(value, None, None)
    return dump


def _date_isoformat(value):
    return value.isoformat()


def _dump(schema, value, many):
    """``schema.dump(value, many=many)``: its ``_serialize`` alone when it has no dump hooks
    (all that marshmallow's ``dump`` would call then)."""
    if schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP]:
        return schema.dump(value, many=many)
    return schema._serialize(value, many=many)


def _nested(field):
    """A nested schema dumped directly."""
    def dump(value):
        schema = field.schema
        return _dump(schema, value, schema.many or field.many)
    return dump


def _list_of_nested(field):
    """A list of nested objects dumped as one ``many`` dump instead of one dump per item."""
    inner = field.inner
    if type(inner) is not fields.Nested or inner.many:
        return None

    def dump(value):
        schema = inner.schema
        return _dump(schema, list(value), True) if not schema.many else \
            [_dump(schema, item, True) for item in value]
    return dump


_PLAIN = {fields.String: lambda field: utils.ensure_text_type,
          fields.Integer: _plain_number,
          fields.Boolean: _boolean,
          fields.Date: _iso_date,
          fields.Nested: _nested,
          fields.List: _list_of_nested}


def _plan_field(name, field):
    """(JSON key, attribute, formatter or None, field name, field) for one dumped field."""
    key = field.data_key if field.data_key is not None else name
    attr = field.attribute or name
    fmt = None
    if "." not in attr and getattr(field, "_CHECK_ATTRIBUTE", True):
        kind = type(field)
        if kind in _PLAIN:
            fmt = _PLAIN[kind](field)
        elif "portal_fast_format" in kind.__dict__:
            fmt = kind.portal_fast_format
    return key, attr, fmt, name, field


class NotBlank(validate.Validator):
    """Text with something besides whitespace (described as a pattern in /api/openapi.json)."""

    def __call__(self, value):
        if not value.strip():
            raise ValidationError("Must not be blank.")
        return value


class InputSchema(Schema):
    """Request bodies: unknown fields are refused (422), so typos never pass silently."""

    class Meta:
        unknown = RAISE


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(metadata={"optional": True})


class ErrorSchema(Schema):
    """The error shape every failure answers with (documented on every operation as ApiError)."""

    error = fields.Nested(ErrorBodySchema, required=True)


def page_schema(item_schema, name):
    """A ``{"items": [...], "nextCursor": ...}`` envelope for a list endpoint."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "next_cursor": fields.String(allow_none=True),
    }, name=name)
