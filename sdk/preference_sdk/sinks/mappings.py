"""How an event becomes a row (``SqlMapping``) or a request (``HttpMapping``); two examples.

Pure functions of an event: the sinks do the I/O. ``HUBSPOT_STYLE`` and
``SALESFORCE_STYLE`` are written for the example center ``maison-lumiere`` (topics
``offers``, ``inspirations``, ``loyalty``): copy one and rename the properties to those
your CRM holds (``dataclasses.replace(HUBSPOT_STYLE, properties={...})``). Both send the
subscriber's pseudonymous id with every update, into a property the CRM treats as a
unique id, and address erasures by it: after an erasure the feed no longer carries the
CRM id (the server deleted it), but the subscriber id stays.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Mapping
from urllib.parse import quote

from .._exceptions import PreferenceSDKError
from .._models import Event, parse_time
from ._files import wire_time

__all__ = [
    "FIXED_PATHS",
    "HUBSPOT_STYLE",
    "PROPERTIES",
    "REQUEST_FIELDS",
    "ROW_FIELDS",
    "SALESFORCE_STYLE",
    "HttpMapping",
    "SqlMapping",
    "Unplaceable",
]

#: Event fields a row may carry, besides its key.
ROW_FIELDS = ("subscriber_id", "external_id", "center", "version", "last_event_id", "updated_at")
#: Paths with a fixed default column.
FIXED_PATHS = {"interests": "interests", "pause": "paused_until", "suppression": "suppressed"}
#: What a subscription change's basis adds, as ``<path>.<field>`` (``offers.email.until``): on what
#: basis, since and until when. Default columns ``offers__email__legal_basis``... (see ``SqlMapping``).
BASIS_FIELDS = ("legal_basis", "since", "until")


def change_values(change: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` a change sets: its path and new value, and for a subscription's change with
    a basis, ``<path>.legal_basis``, ``<path>.since`` and ``<path>.until`` (datetimes, until None)."""
    named = [(change.path, change.after)]
    basis = getattr(change, "basis", None)
    if basis is not None:
        named += [(f"{change.path}.legal_basis", basis.legal_basis), (f"{change.path}.since", basis.since),
                  (f"{change.path}.until", basis.until)]
    return named


def is_basis(name: str) -> bool:
    return name.count(".") == 2 and name.rsplit(".", 1)[1] in BASIS_FIELDS

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_MAPPING_KEYS = {"key", "key_field", "columns", "auto", "values", "on_erasure", "insert"}


@dataclass(frozen=True)
class SqlMapping:
    """How events land in the table. Built from the ``mapping=`` dict of ``SqlSink``.

    ``key``: the column identifying a contact; ``key_field``: what it holds, the
    ``subscriber_id`` (default when the key is ``subscriber_id``) or the CRM's
    ``external_id`` (default for any other key). ``columns``: a path (``offers.email``,
    ``frequency.offers``, ``interests``, ``pause``, ``suppression``, a subscription's basis
    ``offers.email.legal_basis``, ``offers.email.since``, ``offers.email.until``) or field
    (``ROW_FIELDS``) -> column. ``auto``: also give every other path and field its default column (on
    unless ``columns`` is given). ``values``: a subscription state -> the value stored
    (a state it leaves out is NULL); without it the state strings are stored.
    ``on_erasure``: ``delete`` the row (default) or ``clear`` every mapped column.
    ``insert``: create rows for contacts the table lacks (default) or only update.
    """

    key: str = "subscriber_id"
    key_field: str = "subscriber_id"
    columns: Mapping[str, str] = field(default_factory=dict)
    auto: bool = True
    values: Mapping[str, Any] | None = None
    on_erasure: str = "delete"
    insert: bool = True

    @classmethod
    def parse(cls, mapping: Mapping[str, Any] | SqlMapping | None) -> SqlMapping:
        if mapping is None or isinstance(mapping, SqlMapping):
            return mapping or cls()
        unknown = set(mapping) - _MAPPING_KEYS
        if unknown:
            raise ValueError(f"unknown mapping keys {sorted(unknown)}; known: {sorted(_MAPPING_KEYS)}")
        key = mapping.get("key", "subscriber_id")
        made = cls(
            key=key,
            key_field=mapping.get("key_field", "subscriber_id" if key == "subscriber_id" else "external_id"),
            columns=dict(mapping.get("columns") or {}),
            auto=mapping.get("auto", "columns" not in mapping),
            values=None if mapping.get("values") is None else dict(mapping["values"]),
            on_erasure=mapping.get("on_erasure", "delete"),
            insert=mapping.get("insert", True),
        )
        if made.key_field not in ("subscriber_id", "external_id"):
            raise ValueError(f"key_field is subscriber_id or external_id, not {made.key_field!r}")
        if made.on_erasure not in ("delete", "clear"):
            raise ValueError(f"on_erasure is delete or clear, not {made.on_erasure!r}")
        return made

    def column(self, name: str) -> str | None:
        """The column of a path or field, or None when it is not stored."""
        if name in self.columns:
            return self.columns[name]
        if not self.auto or name == self.key_field:
            return None
        if name in ROW_FIELDS:
            return name
        if name in FIXED_PATHS:
            return FIXED_PATHS[name]
        head, dot, tail = name.partition(".")
        if dot and _NAME.match(head) and _NAME.match(tail) and "." not in tail:
            return f"{head}__{tail}"  # offers.email -> offers__email; frequency.offers -> frequency__offers
        if is_basis(name) and all(_NAME.match(part) for part in name.split(".")):
            return name.replace(".", "__")  # offers.email.until -> offers__email__until
        return None

    def value(self, path: str, value: Any) -> Any:
        """What a change's new value is stored as."""
        if is_basis(path):
            return utc(value) if path.endswith((".since", ".until")) else value
        if path == "interests":
            return ",".join(value or ())
        if path == "pause":
            return utc(parse_time(value))
        if path == "suppression":
            return bool(value)
        if path.startswith("frequency."):
            return value
        if self.values is not None:  # a subscription state
            return self.values.get(value)
        return value

    def kind_of(self, name: str) -> str:
        """What a new column for a path or field holds: integer, bigint, datetime, boolean, text, string."""
        if name == "version":
            return "integer"
        if name == "last_event_id":
            return "bigint"
        if name in ("updated_at", "pause") or (is_basis(name) and name.endswith((".since", ".until"))):
            return "datetime"
        if is_basis(name):
            return "string"
        if name == "suppression":
            return "boolean"
        if name == "interests":
            return "text"
        if name in ROW_FIELDS or name.startswith("frequency."):
            return "string"
        stored = [v for v in (self.values or {}).values() if v is not None]
        if stored and all(isinstance(v, bool) for v in stored):
            return "boolean"
        if stored and all(isinstance(v, int) and not isinstance(v, bool) for v in stored):
            return "integer"
        return "state"


#: In a body template, where the computed properties go.
PROPERTIES = "{properties}"

#: Event fields a mapping may send as properties, or name in a template.
REQUEST_FIELDS = ("subscriber_id", "external_id", "center", "version", "event_id", "updated_at")


@dataclass(frozen=True)
class HttpMapping:
    """How an event becomes a request to the CRM.

    ``path``: the contact's resource, a template over ``REQUEST_FIELDS`` (values are URL-quoted),
    e.g. ``/contacts/{external_id}``. ``properties``: a change path (``offers.email``,
    ``frequency.offers``, ``interests``, ``pause``, ``suppression``) or a field -> the
    CRM's property. ``values``: a change's new value -> what the CRM wants
    (``"opted_in": "true"``, ``True: "true"``); other values, and fields (``version``,
    ``event_id``...), are sent as they are, lists joined by ``list_separator``. A boolean
    key matches only a boolean (``True`` is not ``1``). ``body``: a JSON template where ``PROPERTIES`` stands for the
    properties and other strings are templates over ``REQUEST_FIELDS``. An erasure is
    ``erase_method`` on ``erase_path`` (``path`` by default), with ``erase_body`` (a
    template over ``REQUEST_FIELDS``) when there is one.
    """

    path: str
    properties: Mapping[str, str]
    method: str = "PATCH"
    body: Any = field(default_factory=lambda: {"properties": PROPERTIES})
    values: Mapping[Any, Any] = field(default_factory=dict)
    list_separator: str = ";"
    erase_method: str = "DELETE"
    erase_path: str | None = None
    erase_body: Any = None

    def properties_for(self, event: Event) -> dict[str, Any]:
        """The properties the event's changes set (empty: nothing this CRM holds changed); a
        subscription's basis goes where ``offers.email.legal_basis`` (``.since``, ``.until``) says."""
        changed = {self.properties[name]: self._value(wire_time(value) if isinstance(value, datetime) else value)
                   for c in event.changes for name, value in change_values(c) if name in self.properties}
        if not changed:
            return {}
        fields = _fields(event)
        sent = {prop: fields[name] for name, prop in self.properties.items() if name in fields}
        return {**sent, **changed}

    def request_for(self, event: Event) -> tuple[str, str, Any] | None:
        """``(method, path, JSON body or None)``, or None when there is nothing to send.

        Raises ``Unplaceable`` when a template needs a field the event lacks.
        """
        fields = _fields(event)
        if event.erased:
            body = None if self.erase_body is None else _render_body(self.erase_body, {}, fields)
            return self.erase_method, _render_path(self.erase_path or self.path, fields), body
        properties = self.properties_for(event)
        if not properties:
            return None
        return self.method, _render_path(self.path, fields), _render_body(self.body, properties, fields)

    def _value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return self.list_separator.join(str(self._value(v)) for v in value)
        try:
            return self._by_type.get((type(value) is bool, value), value)
        except TypeError:  # unhashable: sent as it is
            return value

    @cached_property
    def _by_type(self) -> dict[tuple[bool, Any], Any]:
        """``values`` keyed so that ``True`` and ``1`` (equal, with one hash) stay apart."""
        return {(type(key) is bool, key): value for key, value in self.values.items()}


class Unplaceable(PreferenceSDKError):
    """A template names a field the event lacks (most often ``external_id``)."""


def _fields(event: Event) -> dict[str, Any]:
    return {
        "subscriber_id": event.subscriber_id, "external_id": event.external_id, "center": event.center,
        "version": event.version, "event_id": event.id, "updated_at": wire_time(event.occurred_at),
    }


def _render_path(template: str, fields: Mapping[str, Any]) -> str:
    return _format(template, {name: quote(str(v), safe="") for name, v in fields.items() if v is not None})


def _render_body(template: Any, properties: Mapping[str, Any], fields: Mapping[str, Any]) -> Any:
    if isinstance(template, str) and template == PROPERTIES:
        return dict(properties)
    if isinstance(template, dict):
        return {key: _render_body(value, properties, fields) for key, value in template.items()}
    if isinstance(template, list):
        return [_render_body(value, properties, fields) for value in template]
    if isinstance(template, str):
        return _format(template, {name: v for name, v in fields.items() if v is not None})
    return template


def _format(template: str, values: Mapping[str, Any]) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not names <= set(values):
        raise Unplaceable(", ".join(sorted(names - set(values))))
    return template.format_map(values)


def utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(timezone.utc)


#: HubSpot's CRM v3 objects API: contacts addressed by a unique custom property
#: (``crm_id`` holding the external id), properties as strings, checkboxes ``"true"``/``"false"``,
#: multi-checkboxes ``;``-joined, an empty string clearing a value. An erasure is HubSpot's
#: GDPR delete (``POST .../gdpr-delete``, the contact named by a unique property in the body).
HUBSPOT_STYLE = HttpMapping(
    method="PATCH",
    path="/crm/v3/objects/contacts/{external_id}?idProperty=crm_id",
    body={"properties": PROPERTIES},
    properties={
        "subscriber_id": "preference_subscriber_id",
        "offers.email": "offers_email_opt_in",
        "offers.sms": "offers_sms_opt_in",
        "offers.push": "offers_push_opt_in",
        "inspirations.email": "inspirations_email_opt_in",
        "inspirations.post": "inspirations_post_opt_in",
        "loyalty.email": "loyalty_email_opt_in",
        "frequency.offers": "offers_frequency",
        "frequency.inspirations": "inspirations_frequency",
        "interests": "preference_interests",
        "pause": "preferences_paused_until",
        "suppression": "unsubscribed_from_all",
    },
    values={"opted_in": "true", "opted_out": "false", "pending": "false", "unknown": "", True: "true",
            False: "false", None: ""},
    list_separator=";",
    erase_method="POST",
    erase_path="/crm/v3/objects/contacts/gdpr-delete",
    erase_body={"objectId": "{subscriber_id}", "idProperty": "preference_subscriber_id"},
)

#: Salesforce's REST API: an upsert of a Contact by an external id field (it creates the
#: contact when none has that id), fields at the top level of the body, checkboxes as JSON
#: booleans (a checkbox cannot be empty, so ``unknown`` is ``false``), multi-select
#: picklists ``;``-joined. ``HasOptedOutOfEmail`` is the standard "email opt out" field. An
#: erasure is a ``DELETE`` of the Contact by its subscriber-id external id field.
SALESFORCE_STYLE = HttpMapping(
    method="PATCH",
    path="/services/data/v60.0/sobjects/Contact/External_Id__c/{external_id}",
    body=PROPERTIES,
    properties={
        "subscriber_id": "Preference_Subscriber_Id__c",
        "offers.email": "Offers_Email__c",
        "offers.sms": "Offers_SMS__c",
        "inspirations.email": "Inspirations_Email__c",
        "inspirations.post": "Inspirations_Post__c",
        "loyalty.email": "Loyalty_Email__c",
        "frequency.offers": "Offers_Frequency__c",
        "interests": "Preference_Interests__c",
        "pause": "Preferences_Paused_Until__c",
        "suppression": "HasOptedOutOfEmail",
    },
    values={"opted_in": True, "opted_out": False, "pending": False, "unknown": False},
    list_separator=";",
    erase_method="DELETE",
    erase_path="/services/data/v60.0/sobjects/Contact/Preference_Subscriber_Id__c/{subscriber_id}",
)
