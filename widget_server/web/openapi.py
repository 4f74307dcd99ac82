"""What the OpenAPI document (``/schema/openapi.json``) says beyond what Litestar reads from handlers.

- The JSON shapes (``routes/api/bodies.py``, an import's records) are documented with msgspec's
  own JSON Schema of them, the one the server validates with (:class:`ShapeSchemas`). Litestar's
  rendering of a struct drops what msgspec enforces on dict keys and list items, that unknown
  members are refused, and writes a bound such as 2**63 - 1 as a float that rounds it up.
- What a handler reads by hand (headers, the pages' forms, the embed's options, an import's
  JSON lines) is added to its operation: ``operation_class=documented(...)``.
- The visitor pages answer every error with a page (``web/error_handler.py``): :func:`pages`
  documents those statuses as HTML.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Sequence

import msgspec
from litestar import MediaType
from litestar.enums import ParamType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Parameter, Reference, RequestBody, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

# -- msgspec's JSON Schema as Litestar's Schema objects ---------------------------------------------

#: JSON Schema keyword -> the field of Litestar's Schema that holds it.
_FIELDS = {(f.metadata.get("alias") or f.name.split("_")[0] + "".join(w.title() for w in f.name.split("_")[1:])): f.name
           for f in fields(Schema)}
_ONE_SCHEMA = {"not", "if", "then", "else", "items", "contains", "additionalProperties", "propertyNames",
               "unevaluatedItems", "unevaluatedProperties", "contentSchema"}
_SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SCHEMA_MAPS = {"properties", "patternProperties", "dependentSchemas"}


def as_schema(data: Mapping[str, Any], ref: Callable[[str], Schema | Reference]) -> Schema | Reference:
    """A JSON Schema (a dict) as Litestar's objects; ``ref(name)`` answers each ``$ref``.

    A keyword Litestar's Schema has no field for is a KeyError: loud, not dropped.
    """
    if "$ref" in data:
        return ref(data["$ref"])
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _ONE_SCHEMA and isinstance(value, Mapping):
            value = as_schema(value, ref)
        elif key in _SCHEMA_LISTS:
            value = [as_schema(item, ref) for item in value]
        elif key in _SCHEMA_MAPS:
            value = {name: as_schema(item, ref) for name, item in value.items()}
        elif key == "type":
            value = [OpenAPIType(t) for t in value] if isinstance(value, list) else OpenAPIType(value)
        kwargs[_FIELDS[key]] = value
    return Schema(**kwargs)


def struct_schema(struct: type[msgspec.Struct]) -> Schema:
    """One struct's schema, inline (for a struct that holds no other)."""
    _, components = msgspec.json.schema_components([struct], ref_template="{name}")

    def no_ref(name: str) -> Schema:
        raise TypeError(f"{struct.__name__} holds {name}: document it as a component")

    return as_schema(components[struct.__name__], no_ref)  # type: ignore[return-value]


class ShapeSchemas(OpenAPISchemaPlugin):
    """The schema of each struct of ``modules`` is msgspec's: exactly what the server accepts."""

    def __init__(self, *modules: str) -> None:
        self.modules = frozenset(modules)

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return (not field_definition.is_union and field_definition.is_subclass_of(msgspec.Struct)
                and field_definition.type_.__module__ in self.modules)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        struct = field_definition.type_
        # Registered first, as Litestar does, so that a struct may refer to itself.
        schema = schema_creator.schema_registry.get_schema_for_field_definition(field_definition)
        _, components = msgspec.json.schema_components([struct], ref_template="{name}")

        def ref(name: str) -> Schema | Reference:
            return schema_creator.for_field_definition(FieldDefinition.from_annotation(self._struct_named(name)))

        made = as_schema(components[struct.__name__], ref)
        for field in fields(Schema):
            setattr(schema, field.name, getattr(made, field.name))
        return schema

    def _struct_named(self, name: str) -> type:
        for module in self.modules:
            found = getattr(sys.modules[module], name, None)
            if found is not None:
                return found
        raise LookupError(f"no struct {name} in {sorted(self.modules)}")


# -- what handlers read by hand --------------------------------------------------------------------


def header(name: str, schema: Schema, description: str, *, required: bool = False) -> Parameter:
    return Parameter(name=name, param_in=ParamType.HEADER, schema=schema, description=description, required=required)


def query(name: str, description: str, schema: Schema | None = None) -> Parameter:
    return Parameter(name=name, param_in=ParamType.QUERY, schema=schema or Schema(type=OpenAPIType.STRING),
                     description=description, required=False)


def form(properties: Mapping[str, Schema], *, required: bool = False, **extra: Any) -> RequestBody:
    """A form body (``application/x-www-form-urlencoded``), as the pages post it."""
    schema = Schema(type=OpenAPIType.OBJECT, properties=dict(properties), **extra)
    return RequestBody(content={"application/x-www-form-urlencoded": OpenAPIMediaType(schema=schema)},
                       required=required)


def documented(*, parameters: Sequence[Parameter] = (), body: RequestBody | None = None,
               also: Mapping[str, Mapping[str, Schema]] | None = None) -> type[Operation]:
    """An ``operation_class`` for a route decorator: the operation Litestar builds from the handler,
    plus ``parameters`` it reads by hand, its ``body`` if it reads that by hand, and, in ``also``,
    other media types an answer may have (``{"200": {"text/plain": Schema(...)}}``)."""

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            self.parameters = [*(self.parameters or []), *parameters] or None
            if body is not None:
                self.request_body = body
            for status, media_types in (also or {}).items():
                answer = self.responses[status]  # type: ignore[index]
                answer.content = {**(answer.content or {}),  # type: ignore[union-attr]
                                  **{name: OpenAPIMediaType(schema=s) for name, s in media_types.items()}}

    return Documented


# -- the visitor pages' answers --------------------------------------------------------------------

_PAGE_WHY = {
    303: "Done: back to the page (a form posted without htmx)",
    400: "A field that must come once came twice, or a value that cannot be read",
    401: "The link has expired (the page offers to send a new one)",
    403: "The link is not valid for this page, or the form was posted from another site",
    404: "No such center",
    409: "Changed meanwhile (another tab, a newer notice): the form again, to review",
    410: "A confirmation link used already: it works once",
    413: "The form is over 64 KB",
    422: "A choice the center does not offer, or a link about messages that cannot be switched off",
    429: "Too many requests (Retry-After)",
    503: "Changes cannot be stored right now (Retry-After): nothing was changed",
}


def pages(*statuses: int) -> dict[int, ResponseSpec]:
    """The statuses a visitor route answers with a page (400 and 404 for every one), in HTML."""
    return {
        status: ResponseSpec(None if status == 303 else str, description=_PAGE_WHY[status], media_type=MediaType.HTML,
                             generate_examples=False)
        for status in sorted({400, 404, *statuses})
    }
