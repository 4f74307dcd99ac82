"""Bulk import: a batch of legacy rows written in a few statements, with its proof.

The rows arrive validated (``web/routes/api/import_rows.py``). For one batch this package
runs a handful of queries whatever its size (existing subscribers by external id,
their choices, the owners of the e-mail addresses, the suppressed ones), decides per
row what changes, and writes with one ``executemany`` per table. Every changed
subscriber gets one ``import`` event, keyed, chained and anchored exactly as
``store.chain`` does for a save (the canonical bytes come from :func:`ledger.canonical`
itself, see :class:`Hasher`; the ids are taken first, as a save's), and one outbox row
per active webhook endpoint, as
``queries.enqueue_deliveries`` writes them, here with one ``INSERT ... SELECT``.

The package, by job: ``model`` (the rows and the outcome), ``existing`` (reading what the
store holds, a handful of queries per batch), ``plan`` (deciding per row and gathering
the rows of every table), ``proof`` (the events' hashes, as the ledger computes them) and
``statements`` (``executemany`` with values already in the driver's form).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator, Sequence

from sqlalchemy import Connection

from ...centers.model import Center
from ...chain_keys import ChainKeys
from .. import confirmations
from .existing import contact_owners, erased_external_ids, existing, load_choices, lookup_hash
from .model import Outcome, Patch, Row
from .plan import Plan, batch_ids, keep_withdrawals
from .statements import Statements

__all__ = ["Outcome", "Patch", "Row", "batch_ids", "import_rows", "keep_withdrawals", "lookup_hash", "paused_gc"]


def import_rows(
    connection: Connection,
    center: Center,
    rows: Sequence[Row],
    *,
    patch: Patch,
    actor: str,
    lookup_key: bytes,
    now: datetime,
    dry_run: bool,
    chain_keys: ChainKeys | None = None,
) -> Outcome:
    """Import ``rows`` in the caller's transaction: ``Store.writing()`` (which holds the feed's
    commit order from its start, as event ids require), or any transaction for a dry run.

    ``chain_keys`` key the events (the store's: ``Store.chain_keys``); without them, the key
    the store derives from ``lookup_key`` when it has no others."""
    keys = chain_keys or ChainKeys.of([lookup_key])
    with paused_gc():
        return _import_rows(connection, center, rows, patch, actor, lookup_key, now, dry_run, keys)


def _import_rows(connection: Connection, center: Center, rows: Sequence[Row], patch: Patch, actor: str,
                 lookup_key: bytes, now: datetime, dry_run: bool, keys: ChainKeys) -> Outcome:
    outcome = Outcome()
    sql = Statements(connection.dialect)
    found = existing(connection, sql, center.id, [r.external_id for r in rows], lock=not dry_run)
    load_choices(connection, sql, found)
    hashes = [lookup_hash(lookup_key, center.id, r.email) if r.email else None for r in rows]
    owners, erased = contact_owners(connection, sql, sorted(h for h in hashes if h))
    erased_ids = erased_external_ids(connection, sql, lookup_key, center.id,
                                     [r.external_id for r in rows if r.external_id not in found])
    plan = Plan(center, now, patch, sql)
    claimed: dict[str, int] = {}  # address hash -> the row of this batch that gives it
    for row, email_hash in zip(rows, hashes, strict=True):
        current = found.get(row.external_id)
        owner = owners.get(email_hash) if email_hash else None
        if email_hash in claimed:
            outcome.rejected.append((row.number, f"row {row.number}: email: already in this batch "
                                                 f"(row {claimed[email_hash]})"))
            continue
        if owner is not None and (current is None or owner != current.id):
            outcome.rejected.append((row.number, f"row {row.number}: email: already a contact point of another "
                                                 "subscriber of this center"))
            continue
        if email_hash is not None:
            claimed[email_hash] = row.number
        if owner is not None or (current is not None and current.has_email):
            email_hash = None  # held already: an import adds an address, never replaces one
        # An erased address, or an erased subscriber's CRM id, comes back suppressed.
        suppress = (email_hash is not None and email_hash in erased) or (
            current is None and row.external_id in erased_ids)
        if current is None:
            plan.create(row, email_hash, suppress)
            outcome.created += 1
        elif plan.update(row, current, email_hash, suppress):
            outcome.updated += 1
        else:
            outcome.unchanged += 1
    if not dry_run:
        plan.write(connection, actor=actor, keys=keys)
        # The double_opt_in option's confirmation mails, in the batch's transaction (one per subscriber).
        confirmations.queue_confirmations(connection, lookup_key, center.id, plan.pending, now)
    outcome.changes = plan.tally()
    return outcome


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a batch builds its rows.

    A batch allocates hundreds of thousands of tuples that hold no cycles; the collector
    kept walking them (and the whole app) for nothing: a sixth of the time of a batch. A
    concurrent batch may switch it back on early, which only costs it that time.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
