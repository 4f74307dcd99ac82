"""The ``preference-sdk`` command: mint-link, export, import, sync.

Connection options come from flags or the environment (``PREFERENCE_URL``,
``PREFERENCE_API_KEY``, ``PREFERENCE_CENTER``, ``PREFERENCE_SECRET_KEYS``), so a key never
has to sit in a shell history. Failures print one line saying what to do; nothing prints a
traceback, a key or a token by accident (set ``PREFERENCE_SDK_DEBUG=1`` to see the
traceback of an unexpected error). ``import`` and ``sync`` show a progress bar (done of
the total, the rate, the time left) when stderr is a terminal, and nothing when it is not.

Exit codes: 0 done; 1 failed (one line on stderr says why); 2 a missing or bad option;
3 ``import`` rejected rows (the report on stdout lists them; a dry run wrote nothing, a
``--commit`` wrote the other rows), unless ``--allow-rejected``; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

from ._client import Client
from ._exceptions import PreferenceSDKError
from ._links import LinkMinter
from ._progress import meter
from ._sync import FileCursorStore, sync

ENV = {"url": "PREFERENCE_URL", "api_key": "PREFERENCE_API_KEY", "center": "PREFERENCE_CENTER",
       "secret_keys": "PREFERENCE_SECRET_KEYS"}


DEBUG = "PREFERENCE_SDK_DEBUG"
#: ``import`` rejected rows (without ``--allow-rejected``): told apart from a failure (1) and bad options (2).
REJECTED = 3
EXIT_CODES = (f"exit codes: 0 done, 1 failed (one line says why), 2 a missing or bad option, {REJECTED} import "
              "rejected rows (unless --allow-rejected), 130 interrupted")


class UsageError(Exception):
    """A missing option or a bad value: the message says which (exit 2, as argparse does)."""


def _option(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name, None) or os.environ.get(ENV[name], "")
    if not value:
        raise UsageError(f"--{name.replace('_', '-')} or {ENV[name]} is required")
    return value


def _client(args: argparse.Namespace) -> Client:
    return Client(_option(args, "url"), _option(args, "api_key"), _option(args, "center"))


def cmd_mint_link(args: argparse.Namespace) -> None:
    secrets = [s.strip() for s in _option(args, "secret_keys").split(",") if s.strip()]
    minter = LinkMinter(_option(args, "url"), secrets)
    center = _option(args, "center")
    if args.headers:
        headers = minter.list_unsubscribe_headers(center, args.subscriber, topic=args.topic,
                                                  channel=args.channel or "email", mailto=args.mailto,
                                                  locale=args.locale)
        for name, value in headers.items():
            print(f"{name}: {value}")
    elif args.scope == "unsubscribe":
        print(minter.unsubscribe_url(center, args.subscriber, topic=args.topic, channel=args.channel,
                                     locale=args.locale))
    else:
        print(minter.manage_url(center, args.subscriber, locale=args.locale))


def cmd_export(args: argparse.Namespace) -> None:
    with _client(args) as client:
        held = client.export(args.subscriber)
    text = json.dumps(held, indent=2, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


def cmd_import(args: argparse.Namespace) -> int:
    from ._import import count_rows, import_file, load_mapping

    mapping = load_mapping(args.mapping) if args.mapping else None
    with _client(args) as client, meter("rows", lambda: count_rows(args.file, mapping),
                                        enabled=args.progress) as shown:
        report = import_file(client, args.file, mapping, dry_run=not args.commit, batch_size=args.batch_size,
                             on_progress=lambda done: shown.update(done.rows))
    print(json.dumps({
        "dry_run": report.dry_run, "rows": report.rows, "created": report.created, "updated": report.updated,
        "unchanged": report.unchanged, "rejected": list(report.rejected), "changes": report.changes,
    }, indent=2, ensure_ascii=False))
    if report.dry_run:
        print("dry run: nothing was written; run again with --commit to import", file=sys.stderr)
    if report.rejected and not args.allow_rejected:
        print(f"{_count(len(report.rejected), 'row')} rejected (listed above): fix them, or pass --allow-rejected "
              f"to {'import' if report.dry_run else 'accept'} the others; exit {REJECTED}", file=sys.stderr)
        return REJECTED
    return 0


def _sink(spec: str, table: str) -> Any:
    from . import sinks

    kind, _, target = spec.partition(":")
    if kind == "jsonl" and target:
        return sinks.JsonLinesSink(target)
    if kind == "csv" and target:
        return sinks.CsvSink(target)
    if kind == "sql" and target:
        return sinks.SqlSink(target, table=table)
    raise UsageError("--sink must be jsonl:PATH, csv:PATH or sql:SQLALCHEMY_URL")


def cmd_sync(args: argparse.Namespace) -> None:
    with _client(args) as client:
        sink = _sink(args.sink, args.table)
        try:
            if args.cursor:
                cursor_store = FileCursorStore(args.cursor)
            elif hasattr(sink, "cursor_store"):
                # Event ids are shared by every center: each center its own cursor, even into one table.
                cursor_store = sink.cursor_store(f"{args.table}@{client.center_id}")
            else:
                raise UsageError("--cursor FILE is required for this sink (where to remember the last event synced)")
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            with meter("events", lambda: _events_to_sync(client, cursor_store), enabled=args.progress) as shown:
                report = sync(client, sink, cursor_store, batch=args.batch, follow=args.follow,
                              poll_interval=args.poll_interval, stop=stop,
                              on_progress=lambda done: shown.update(done.events, total=max(shown.total or 0,
                                                                                            done.events)))
        finally:
            close = getattr(sink, "close", None)
            if close:
                close()
    print(f"synced {_count(report.events, 'event')} in {_count(report.pages, 'page')}; cursor {report.cursor}",
          file=sys.stderr)


def _events_to_sync(client: Client, cursor_store: Any) -> int | None:
    """The events after the stored cursor (one small request), for the progress total."""
    try:
        page = client.events(after=cursor_store.load(), limit=1, remaining=True)
    except (PreferenceSDKError, ValueError):  # the sync itself will say what is wrong
        return None
    return None if page.remaining is None else len(page.events) + page.remaining


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="preference-sdk", description=__doc__.split("\n")[0].replace("``", ""),
                                  epilog=EXIT_CODES)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"the server's base URL ({ENV['url']})")
    common.add_argument("--center", help=f"the center id ({ENV['center']})")
    api = argparse.ArgumentParser(add_help=False, parents=[common])
    api.add_argument("--api-key", help=f"an API key ({ENV['api_key']}); prefer the variable")
    commands = top.add_subparsers(dest="command", required=True)

    mint = commands.add_parser("mint-link", parents=[common], help="a signed link, offline, with the shared secret")
    mint.add_argument("--subscriber", required=True)
    mint.add_argument("--scope", choices=("manage", "unsubscribe"), default="manage")
    mint.add_argument("--topic")
    mint.add_argument("--channel")
    mint.add_argument("--locale")
    mint.add_argument("--headers", action="store_true", help="print List-Unsubscribe headers (RFC 2369, 8058)")
    mint.add_argument("--mailto", help="an unsubscribe mailbox for the mailto: form of List-Unsubscribe")
    mint.add_argument("--secret-keys", help=f"the signing secrets, newest first ({ENV['secret_keys']})")
    mint.set_defaults(run=cmd_mint_link)

    export = commands.add_parser("export", parents=[api], help="everything held about a subscriber (GDPR)")
    export.add_argument("subscriber")
    export.add_argument("--output", "-o")
    export.set_defaults(run=cmd_export)

    load = commands.add_parser("import", parents=[api], help="import legacy preferences (dry run unless --commit)",
                               epilog=EXIT_CODES)
    load.add_argument("file", help="a .csv or .jsonl file")
    load.add_argument("--mapping", help="the column mapping, TOML or JSON (docs/IMPORT.md); not needed when the "
                                        "file already uses the canonical names")
    load.add_argument("--commit", action="store_true", help="write (without it: a dry run that reports)")
    load.add_argument("--batch-size", type=int, default=5000)
    load.add_argument("--allow-rejected", action="store_true",
                      help=f"exit 0 even when rows are rejected (without it: exit {REJECTED})")
    _progress_option(load)
    load.set_defaults(run=cmd_import)

    follow = commands.add_parser("sync", parents=[api], help="copy the change feed into a sink")
    follow.add_argument("--sink", required=True, help="jsonl:PATH, csv:PATH or sql:SQLALCHEMY_URL")
    follow.add_argument("--table", default="crm_contacts", help="the SQL sink's table")
    follow.add_argument("--cursor", help="a file keeping the last event synced (SQL sinks keep it themselves)")
    follow.add_argument("--batch", type=int, default=500)
    follow.add_argument("--follow", action="store_true", help="keep polling until interrupted")
    follow.add_argument("--poll-interval", type=float, default=2.0)
    _progress_option(follow)
    follow.set_defaults(run=cmd_sync)
    return top


def _progress_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-progress", dest="progress", action="store_false",
                         help="no progress bar, even on a terminal (never shown when stderr is not one)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code = args.run(args)
    except UsageError as exc:
        return _fail(exc, 2)
    except BrokenPipeError:  # `preference-sdk export ... | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except (PreferenceSDKError, ValueError, ImportError) as exc:
        return _fail(exc)
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # a bug of ours: say so on one line, without what it held
        if os.environ.get(DEBUG):
            raise
        return _fail(f"unexpected {type(exc).__name__}; set {DEBUG}=1 to see where, and please report it")
    return code or 0


def _fail(message: object, code: int = 1) -> int:
    """One line on stderr (a message never spans lines: the first is the one that says what to do)."""
    lines = str(message).strip().splitlines() or [type(message).__name__]
    print(f"preference-sdk: {lines[0]}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
