"""Where ``sync`` writes the change feed: a SQL table, files, or a CRM's HTTP API.

Every sink is idempotent by event id and durable when ``write`` returns: the two things
``preference_sdk.sync`` needs to checkpoint safely. ``SqlSink`` needs SQLAlchemy
(``pip install 'preference-sdk[sql]'``); the others need nothing more than the SDK.
"""

from ._files import CSV_COLUMNS, CsvSink, JsonLinesSink, event_json
from ._http import HttpSink
from ._sql import SqlCursorStore, SqlSink
from .mappings import HUBSPOT_STYLE, PROPERTIES, SALESFORCE_STYLE, HttpMapping, SqlMapping

__all__ = [
    "CSV_COLUMNS",
    "CsvSink",
    "HUBSPOT_STYLE",
    "HttpMapping",
    "HttpSink",
    "JsonLinesSink",
    "PROPERTIES",
    "SALESFORCE_STYLE",
    "SqlCursorStore",
    "SqlMapping",
    "SqlSink",
    "event_json",
]
