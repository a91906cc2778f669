"""Config schemas serialised for the editor's forms (voluptuous-serialize, as Home Assistant feeds its
frontend) and as JSON Schema for the OpenAPI description. One schema, three uses: validation, forms, API docs.

A field is ``{"name", "type", "required", "default"?, "format"?, "options"?, "min"?, "max"?, "unit"?,
"items"?, "secret"?}``. Types: ``string``, ``integer``, ``float``, ``boolean``, ``select`` (``options`` are
``[value, label]`` pairs), ``list`` (``items`` is a field without a name), ``mapping``, ``any``. Named
validators tell their form: a validator may carry a ``form`` attribute (a dict merged into the field), as every
one of ``flowhost.validation`` does; that attribute is all this module reads of a validator (voluptuous's own
validators are described through voluptuous-serialize). Anything unknown becomes ``{"type": "string"}``:
serialising never fails for an installed type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import voluptuous as vol
import voluptuous_serialize

log = logging.getLogger(__name__)

STRING: dict[str, Any] = {"type": "string"}
_VOLUPTUOUS_BOOLEAN = ("voluptuous.validators", "Boolean")


def _describe_function(function: Callable) -> dict[str, Any] | None:
    """A validator's own ``form`` (see flowhost.validation); None for one that has none."""
    form = getattr(function, "form", None)
    if isinstance(form, Mapping):
        return dict(form)
    wrapped = getattr(function, "__wrapped__", None)
    if (getattr(wrapped, "__module__", None), getattr(wrapped, "__qualname__", None)) == _VOLUPTUOUS_BOOLEAN:
        return {"type": "boolean"}  # vol.Boolean() is voluptuous's, which gives no form of its own
    return None


def _serializer(schema: Any) -> Any:
    if isinstance(schema, list):
        return {"type": "list", "items": _field(schema[0]) if len(schema) == 1 else {"type": "any"}}
    if isinstance(schema, Mapping):
        if all(isinstance(key, vol.Marker) or isinstance(key, str) for key in schema):
            return voluptuous_serialize.UNSUPPORTED  # a nested form: voluptuous-serialize lists its fields
        return {"type": "mapping"}
    if schema is object:
        return {"type": "any"}
    if isinstance(schema, vol.All):
        field: dict[str, Any] = {}
        for validator in schema.validators:
            if not isinstance(validator, Mapping | vol.Schema):
                field.update(_convert(validator))
        nested = _dict_schema(schema)
        if nested is not None:  # a mapping checked as a whole too (``All({...}, check)``): its fields still show
            field.update(_convert(nested))
        return field
    if isinstance(schema, vol.Any):
        if len(schema.validators) == 2 and schema.validators[0] is None:
            return voluptuous_serialize.UNSUPPORTED  # vol.Maybe: voluptuous-serialize adds allow_none
        return _convert(schema.validators[0]) if schema.validators else dict(STRING)
    if isinstance(schema, vol.Range | vol.Clamp | vol.Length | vol.In | vol.Coerce | vol.Datetime):
        return voluptuous_serialize.UNSUPPORTED
    if callable(schema) and not isinstance(schema, type | vol.Schema):
        described = _describe_function(schema)
        return described if described is not None else dict(STRING)
    return voluptuous_serialize.UNSUPPORTED


def _convert(schema: Any) -> dict[str, Any]:
    try:
        result = voluptuous_serialize.convert(schema, custom_serializer=_serializer)
    except (ValueError, TypeError) as exc:
        log.debug("no form for %r: %s", schema, exc)
        return dict(STRING)
    if isinstance(result, list):
        return {"type": "mapping", "fields": result}
    if "valueMin" in result:
        result["min"] = result.pop("valueMin")
    if "valueMax" in result:
        result["max"] = result.pop("valueMax")
    if "options" in result:
        result["options"] = [list(option) for option in result["options"]]
    return result


def _field(schema: Any) -> dict[str, Any]:
    """A whole field: what ``_convert`` found, text when it found no type."""
    field = _convert(schema)
    field.setdefault("type", "string")
    if field.get("format") == "duration" and ("min" in field or "max" in field):
        field["unit"] = "s"  # the bounds of a duration are seconds
    return field


def _dict_schema(schema: Any) -> Mapping | None:
    """The mapping of fields inside ``Schema(...)``/``All(...)`` wrappers (cross-field checks are skipped)."""
    if isinstance(schema, vol.Schema):
        return _dict_schema(schema.schema)
    if isinstance(schema, Mapping):
        return schema
    if isinstance(schema, vol.All):
        for validator in schema.validators:
            found = _dict_schema(validator)
            if found is not None:
                return found
    return None


def form_fields(
    schema: vol.Schema,
    *,
    secret_fields: Iterable[str] = (),
    connection_fields: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The fields of a config schema, for a form; one bad validator gives one plain text field, not an error."""
    mapping = _dict_schema(schema)
    if mapping is None:
        return []
    secret_fields, connection_fields = set(secret_fields), set(connection_fields)
    fields = []
    for key, value in mapping.items():
        name = key.schema if isinstance(key, vol.Marker) else key
        if not isinstance(name, str):
            continue  # a catch-all key type (``{str: str}``): no fixed field
        field = {"name": name, **_field(value)}
        field["required"] = isinstance(key, vol.Required)
        default = getattr(key, "default", vol.UNDEFINED)
        if not isinstance(default, vol.Undefined):
            try:
                field["default"] = default()
            except Exception:  # a default factory that needs arguments: leave it out
                pass
        if isinstance(key, vol.Marker) and key.description:
            field["description"] = key.description
        if labels and name in labels:
            field["label"] = labels[name]
        if name in secret_fields:
            field["secret"] = True
            if field.get("format") != "pem":
                field["format"] = "password"
        if name in connection_fields:
            field["format"] = "connection"
        fields.append(field)
    return fields


# ---- JSON Schema (OpenAPI) -------------------------------------------------------------------------------------

_JSON_TYPES = {"string": "string", "integer": "integer", "float": "number", "boolean": "boolean"}


def field_json_schema(field: Mapping[str, Any]) -> dict[str, Any]:
    kind = field.get("type")
    if kind == "select":
        result: dict[str, Any] = {"enum": [option[0] for option in field.get("options", [])]}
    elif kind == "list":
        result = {"type": "array", "items": field_json_schema(field.get("items", {}))}
    elif kind == "mapping":
        result = fields_json_schema(field["fields"]) if "fields" in field else {"type": "object"}
    elif kind in _JSON_TYPES:
        result = {"type": _JSON_TYPES[kind]}
    else:
        result = {}
    if "format" in field:
        result["format"] = field["format"]
    if kind in ("integer", "float"):
        for ours, theirs in (("min", "minimum"), ("max", "maximum")):
            if field.get(ours) is not None:
                result[theirs] = field[ours]
    if field.get("secret"):
        result["writeOnly"] = True
    if "default" in field:
        result["default"] = field["default"]
    if "description" in field:
        result["description"] = field["description"]
    return result


def fields_json_schema(fields: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    fields = list(fields)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {field["name"]: field_json_schema(field) for field in fields},
        "additionalProperties": False,
    }
    required = [field["name"] for field in fields if field.get("required")]
    if required:
        schema["required"] = required
    return schema
