"""``POST /api/v1/centers/{center}/imports``: a batch of legacy preferences (docs/API.md, docs/IMPORT.md).

The body is read and checked in a worker thread before the write lock is taken; only
matching, deciding and writing run inside the transaction (through :func:`.writes.run_write`,
so an ``Idempotency-Key`` replays the first report and the batch commits whole or not
at all). A dry run reads in an ordinary read transaction and writes nothing, not even
an idempotency record: it takes no write lock, so it never holds up other writers.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.params import QueryParameter, RawBody
from msgspec import UNSET, UnsetType
from sqlalchemy import Connection

from ....centers.model import Center
from ....errors import BadRequest, UnsupportedMediaType
from ....store.imports import Outcome, import_rows
from ....store.store import Store
from ...dependencies import Clock
from ...openapi import documented, struct_schema
from .bodies import IDEMPOTENCY_KEY, ImportReport, Problem, write_problems
from .import_rows import MAX_RECORDS, PART_TYPES, Batch, ImportRecord, read_batch
from .writes import Answer, ApiWrite, idempotency_key, json_response

TOO_LARGE = ResponseSpec(Problem, description="The body is over 8 MB", media_type="application/problem+json",
                         generate_examples=False)


#: JSON lines go by several names; all are accepted.
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/ndjson")


NOT_NDJSON = ResponseSpec(Problem, description="The body is not JSON lines (Content-Type application/x-ndjson)",
                          media_type="application/problem+json", generate_examples=False)


def documented_record() -> type[msgspec.Struct]:
    """:class:`ImportRecord` as documented: its choices typed as in a PATCH, which they are checked
    as (the struct keeps them raw, to check each distinct text once)."""
    members = [(f.name, PART_TYPES[f.name] | UnsetType, UNSET) if f.type is msgspec.Raw
               else (f.name, f.type, f.default)
               for f in msgspec.structs.fields(ImportRecord)]
    return msgspec.defstruct("ImportRecord", members, forbid_unknown_fields=True, kw_only=True)


#: The body: JSON lines, described as the list of its lines' values. A line that is not a record is
#: rejected alone, with its row and reason in the report; only a body none of whose lines is an
#: object is refused whole (400). None at all is a batch too: nothing to import. The limit of
#: records is said, not stated as maxItems: fuzzers would build bodies of 10,001 records to break it.
RECORDS = RequestBody(
    required=True, description=f"One JSON value a line, up to {MAX_RECORDS:,} (more is a 400) and 8 MB (more is a "
                               "413): the records (docs/API.md, Bulk import)",
    content={"application/x-ndjson": OpenAPIMediaType(schema=Schema(
        type=OpenAPIType.ARRAY,
        items=Schema(any_of=[struct_schema(documented_record()),
                             Schema(description="Any other line: rejected alone, its reason in the report")]),
        any_of=[Schema(max_items=0), Schema(contains=Schema(type=OpenAPIType.OBJECT))],
    ))},
)


@post("/imports", opt={"scope": "write", "body": "ndjson"}, status_code=200, tags=["imports"],
      summary="Import a batch of legacy preferences (JSON lines)",
      responses={**write_problems(), 413: TOO_LARGE, 415: NOT_NDJSON},
      operation_class=documented(parameters=[IDEMPOTENCY_KEY], body=RECORDS),
      description="The body (application/x-ndjson): one record per line, up to 10,000 records and 8 MB. "
                  "See docs/API.md, Bulk import.")
async def import_records(
    request: Request,
    center: NamedDependency[Center],
    store: NamedDependency[Store],
    clock: NamedDependency[Clock],
    write: NamedDependency[ApiWrite],
    dry_run: Annotated[bool, QueryParameter(description="true: report what would change and write nothing")],
    body: RawBody,
    double_opt_in: Annotated[bool, QueryParameter(description=(
        "true: an opt-in the row's region or topic asks to confirm becomes pending and is mailed a confirmation; "
        "false (default): legacy opt-ins are recorded as given"))] = False,
) -> Response[ImportReport]:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in NDJSON_TYPES:
        raise UnsupportedMediaType(errors=[{"path": "Content-Type", "message": "application/x-ndjson"}])
    if len(request.query_params.getall("dry_run", [])) > 1:  # the last one would win: say which, once
        raise BadRequest(errors=[{"path": "dry_run", "message": "give dry_run once: true or false"}])
    idempotency_key(request)  # a dry run stores none, but answers a malformed one as the real run would
    batch = await anyio.to_thread.run_sync(read_batch, body, center, clock(), double_opt_in)
    actor = request.state.api_key.actor

    def work(connection: Connection) -> Answer:
        outcome = import_rows(connection, center, batch.rows, patch=batch.patch, actor=actor,
                              lookup_key=store.lookup_key, now=store.clock(), dry_run=dry_run,
                              chain_keys=store.chain_keys)
        return Answer(report(batch, outcome, dry_run=dry_run))

    if not dry_run:
        return await write(work)

    def read() -> Answer:
        with store.engine.connect() as connection, connection.begin():
            return work(connection)

    return json_response(await anyio.to_thread.run_sync(read))


def report(batch: Batch, outcome: Outcome, *, dry_run: bool) -> dict[str, Any]:
    """The answer (docs/API.md): counts, rejected rows in row order, changes per path and value."""
    rejected = sorted(batch.rejected + outcome.rejected)
    return {
        "dry_run": dry_run,
        "rows": batch.records,
        "created": outcome.created,
        "updated": outcome.updated,
        "unchanged": outcome.unchanged,
        "rejected": [{"row": number, "reason": reason} for number, reason in rejected],
        "changes": outcome.changes,
    }
