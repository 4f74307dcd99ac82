"""Import legacy preferences from a CSV or JSON-lines file, through ``POST /imports``.

::

    from preference_sdk import Client, import_file, load_mapping

    with Client(url, api_key, "maison-lumiere", timeout=120) as client:
        report = import_file(client, "legacy.csv", load_mapping("legacy.toml"), dry_run=True)
        print(report.created, report.updated, report.unchanged, len(report.rejected))

The file is read as a stream; each row becomes a canonical record (docs/API.md, "Bulk
import") through the **mapping**; records go to the server in batches, and the batches'
reports are merged into one :class:`ImportReport`. A row the mapping cannot read (a date
in no known format, a value the mapping does not list, an external id already seen
earlier in the file) is rejected here, with its row number, and never sent. Running the
same file again is safe: what is already imported comes back ``unchanged``; so an import
stopped half-way is finished by running it again.

The mapping (a dict, or a TOML or JSON file read by :func:`load_mapping`; the full
reference with examples is docs/IMPORT.md)::

    format = "csv"                 # or "jsonl"; default: from the extension (.csv, .jsonl, .ndjson)
    delimiter = ","                # CSV only
    encoding = "utf-8-sig"         # the default (a BOM, as spreadsheets write it, is dropped)
    legacy_source = "old-esp"      # where the consents come from: goes into each event's evidence
    date_formats = ["%d/%m/%Y"]    # strptime formats of legacy dates; default ISO 8601 (2019-04-02)
    timezone = "Europe/Paris"      # for legacy times written without an offset; default UTC
    separator = ";"                # between interests in one cell (default ";")

    [columns]                      # a field or a path -> the file's column
    external_id = "CustomerID"     # required
    email = "Email"                # optional, like every other entry
    locale = "Lang"
    legacy_date = "OptInDate"
    legacy_source = "Origin"       # a per-row source, instead of the constant above
    suppressed = "GlobalUnsub"     # "unsubscribed from everything"
    "offers.email" = "NewsOptIn"   # <topic>.<channel>: a subscription state
    "frequency.offers" = "NewsFreq"
    interests = "Tags"

    [values]                       # the file's values -> ours, per field or path
    states = {Y = "opted_in", N = "opted_out"}        # every subscription without its own map
    "offers.sms" = {"1" = "opted_in", "0" = "opted_out"}
    "frequency.offers" = {W = "weekly", M = "monthly"}
    locale = {FR = "fr", EN = "en"}
    interests = {Deco = "home-decor"}

Without ``columns`` the file's own column names are the fields and paths above (for JSON
lines: each line is already a canonical record). An empty cell gives nothing (the
subscriber keeps what they have) unless the entry's map lists ``""``. A value map is
matched exactly, then ignoring case; a non-empty value it does not list rejects the row.
Without a map, values go as they are and the server checks them.

A mapping of the wrong shape (a two-character delimiter, an unknown encoding, a number
where a column name goes), a header naming a mapped column twice, a file that is not in
the mapping's encoding or that the CSV reader cannot split (a cell over 1 MB, most often
an unclosed quote) raise :class:`ImportMappingError`, naming what and where. Reading a
CSV raises the ``csv`` module's field size limit, process-wide, to at least 1 MB.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from ._import_mapping import ImportMappingError
from ._import_reader import _Reader
from ._models import ImportReport

__all__ = ["ImportMappingError", "import_file", "load_mapping", "read_records"]

#: Records per request: the server takes up to 10,000.
MAX_BATCH = 10_000
#: Batches on their way at once: the server reads one while it writes the other.
IN_FLIGHT = 2


def load_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A mapping from a ``.toml`` or ``.json`` file."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(path.read_text(encoding="utf-8"))
        if path.suffix.lower() == ".json":
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ImportMappingError(f"{path.name}: a mapping is a table of keys (a JSON object), "
                                         f"not {type(loaded).__name__}")
            return loaded
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ImportMappingError(f"{path.name}: {exc}") from exc
    raise ImportMappingError(f"{path.name}: a mapping is a .toml or .json file")


def import_file(
    client: Any,
    path: str | os.PathLike[str],
    mapping: Mapping[str, Any] | None,
    *,
    dry_run: bool,
    batch_size: int = 5000,
    on_progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import a CSV or JSON-lines file through ``client`` (a :class:`Client`), batch by batch.

    ``mapping`` (see the module docstring) is checked against the center first: a column
    missing from the file, or a topic, channel, frequency or interest the center does not
    offer, raises :class:`ImportMappingError` before anything is sent. ``dry_run=True``
    reports what would change and writes nothing. ``on_progress`` gets the report so far
    after each batch. While one batch is on its way the next one is read.
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH:,}")
    reader = _Reader(path, mapping)
    reader.check(client.center())
    total = _Total(dry_run)
    with ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="preference-import") as sender:
        pending: deque[Future[ImportReport]] = deque()
        for records, rejected, rows in reader.batches(batch_size):
            total.add_local(rejected, rows)
            if records:
                pending.append(sender.submit(client.import_batch, records, dry_run=dry_run))
            while len(pending) >= IN_FLIGHT:
                total.add(pending.popleft().result())
                _progress(on_progress, total)
        while pending:
            total.add(pending.popleft().result())
    _progress(on_progress, total)
    return total.report()


def count_rows(path: str | os.PathLike[str], mapping: Mapping[str, Any] | None) -> int | None:
    """The rows the file holds (a quick read, about 1.4 s a million CSV rows), for a progress total.

    None when the file cannot be read that way; :func:`import_file` then says why.
    """
    return _Reader(path, mapping).count()


def read_records(path: str | os.PathLike[str], mapping: Mapping[str, Any] | None) -> Iterator[tuple[int, Any]]:
    """Every row of the file as ``(row, record)``, or ``(row, reason)`` (a str) when rejected here."""
    yield from _Reader(path, mapping).rows()


def _progress(on_progress: Callable[[ImportReport], None] | None, total: _Total) -> None:
    if on_progress is not None:
        on_progress(total.report())


@dataclass
class _Total:
    """The reports of every batch, and the rows rejected here, merged."""

    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Mapping[str, Any]] = field(default_factory=list)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_local(self, rejected: list[tuple[int, str]], rows: int) -> None:
        self.rows += rows
        self.rejected.extend({"row": row, "reason": reason} for row, reason in rejected)

    def add(self, report: ImportReport) -> None:
        self.created += report.created
        self.updated += report.updated
        self.unchanged += report.unchanged
        self.rejected.extend(report.rejected)
        for path, counts in report.changes.items():
            mine = self.changes.setdefault(path, {})
            for value, count in counts.items():
                mine[value] = mine.get(value, 0) + count

    def report(self) -> ImportReport:
        rejected = tuple(sorted(self.rejected, key=lambda r: (r.get("row") or 0)))
        changes = {path: dict(counts) for path, counts in sorted(self.changes.items())}
        return ImportReport(dry_run=self.dry_run, rows=self.rows, created=self.created, updated=self.updated,
                            unchanged=self.unchanged, rejected=rejected, changes=changes)
