"""What ``preference-sdk import`` and ``sync`` show while they run: a bar on a terminal, nothing elsewhere."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from preference_sdk import _progress
from preference_sdk._import import count_rows
from preference_sdk._models import Event, FeedPage
from preference_sdk._sync import MemoryCursorStore, SyncReport, sync

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as stderr does in an interactive shell."""

    def isatty(self) -> bool:
        if self.closed:  # as a real file's isatty does
            raise ValueError("I/O operation on closed file")
        return True


def shown(stream: io.StringIO) -> str:
    return ESCAPES.sub("", stream.getvalue()).replace("\r", "\n")


def test_a_terminal_gets_the_done_the_total_the_rate_and_the_time_left() -> None:
    stream = Terminal()
    with _progress.meter("rows", lambda: 20_000, stream=stream) as meter:
        assert meter.visible
        for done in (5_000, 10_000, 20_000):
            meter.update(done)
    text = shown(stream)
    assert "20,000 of 20,000 rows" in text
    assert re.search(r"[\d,]+/s", text), text  # the rate
    assert re.search(r"\d:\d\d:\d\d left", text), text  # the estimate of the time left


def test_not_a_terminal_shows_nothing_and_does_not_count() -> None:
    stream = io.StringIO()

    def total() -> int:
        raise AssertionError("counted for a display nobody sees")

    with _progress.meter("rows", total, stream=stream) as meter:
        meter.update(5)
    assert not meter.visible and stream.getvalue() == ""


def test_no_progress_is_quiet_on_a_terminal_too() -> None:
    stream = Terminal()
    with _progress.meter("rows", lambda: 10, stream=stream, enabled=False) as meter:
        meter.update(5)
    assert stream.getvalue() == ""


def test_without_rich_a_terminal_gets_a_plain_line_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_progress, "Console", None)
    stream = Terminal()
    with _progress.meter("events", lambda: 1_200, stream=stream) as meter:
        meter.update(500)
        meter.update(1_200)
    assert stream.getvalue() == "  500 of 1,200 events\n  1,200 of 1,200 events\n"


def test_an_unknown_total_still_counts() -> None:
    stream = Terminal()
    with _progress.meter("events", lambda: None, stream=stream) as meter:
        meter.update(42)
    assert "42 events" in shown(stream) and " of " not in shown(stream)


def test_a_closed_stream_is_not_a_terminal() -> None:
    stream = Terminal()
    stream.close()
    assert not _progress.meter("rows", lambda: 1, stream=stream).visible


@pytest.mark.parametrize("text, rows", [
    ("Id,News\nC1,Y\nC2,N\n", 2),
    ('Id,News\nC1,"two\nlines"\n\nC2,N\n', 2),  # a quoted cell over two lines is one row; a blank line none
    ("Id,News\n", 0),
    ("", 0),
])
def test_count_rows_counts_what_the_import_reads(tmp_path: Path, text: str, rows: int) -> None:
    path = tmp_path / "legacy.csv"
    path.write_text(text)
    assert count_rows(path, None) == rows


def test_count_rows_of_json_lines_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "legacy.jsonl"
    path.write_text('{"external_id": "a"}\n\n{"external_id": "b"}\n')
    assert count_rows(path, None) == 2


def test_count_rows_leaves_an_unreadable_file_to_the_import(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes("Id,Nom\nC1,Andr\xe9\n".encode("latin-1"))
    assert count_rows(path, None) is None  # the import then says which line is not utf-8
    assert count_rows(tmp_path / "missing.csv", None) is None


def event(number: int) -> Event:
    return Event.from_json({"id": number, "subscriber_id": "sub_a", "center": "c", "version": number,
                            "occurred_at": "2026-12-01T00:00:00Z", "source": "api", "actor": "system",
                            "changes": []})


class Feed:
    def __init__(self, count: int) -> None:
        self.all = [event(n) for n in range(1, count + 1)]

    def events(self, *, after: int, limit: int) -> FeedPage:
        page = [e for e in self.all if e.id > after][:limit]
        return FeedPage(tuple(page), page[-1].id if page else after, len(page) == limit)


class Sink:
    def write(self, events: object) -> None:
        pass


def test_sync_reports_its_progress_after_each_page_stored() -> None:
    seen: list[SyncReport] = []
    store = MemoryCursorStore()
    sync(Feed(7), Sink(), store, batch=3, on_progress=seen.append)
    assert [(r.events, r.pages, r.cursor) for r in seen] == [(3, 1, 3), (6, 2, 6), (7, 3, 7)]
    assert store.cursor == 7


def test_feed_page_reads_remaining_when_the_server_sends_it() -> None:
    assert FeedPage.from_json({"events": [], "next_cursor": 4, "has_more": True, "remaining": 12}).remaining == 12
    assert FeedPage.from_json({"events": [], "next_cursor": 4, "has_more": False}).remaining is None


def test_the_total_is_the_rows_the_import_reads_for_the_example_file() -> None:
    from preference_sdk._import import load_mapping, read_records

    from tests.helpers import ROOT

    examples = ROOT / "examples" / "imports"
    mapping = load_mapping(examples / "legacy.toml")
    rows = list(read_records(examples / "legacy.csv", mapping))
    assert count_rows(examples / "legacy.csv", mapping) == len(rows) == 6
    assert [row for row, record in rows if isinstance(record, str)] == [6]  # the one rejected on purpose
