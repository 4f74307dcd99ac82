"""The store on both engines (a real SQLite file, and this machine's PostgreSQL): state and
proof together, chains, conflicts, repeats. A test about SQLite alone says so."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

from tests.helpers import ENGINES
from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences
from widget_server.store import migrate
from widget_server.store.store import Store, UnknownSubscriber, VersionConflict
from widget_server.store.tables import metadata

SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"])

WEB = EventContext(source="web", actor="subject", locale="fr", notice_version="2026-11-01",
                   evidence={"method": "signed_link"})


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def prefs(**subs: str) -> Preferences:
    return Preferences(subscriptions={tuple(k.split("__")): v for k, v in subs.items()})


@pytest.fixture
def subscriber(store: Store) -> str:
    return store.create_subscriber("acme", preferences=prefs(offers__email=OPTED_IN), email="Ann@Example.org")


def behind_our_back(store: Store, statement: str) -> None:
    """Someone edits the database directly, outside the store."""
    with store.engine.begin() as connection:
        connection.execute(text(statement))


def test_migrations_build_exactly_the_declared_schema(store: Store) -> None:
    assert not migrate.pending(store.engine)
    tables = set(inspect(store.engine).get_table_names()) - {"alembic_version"}
    assert tables == set(metadata.tables)
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_a_copy_of_the_migrated_template_needs_no_migration_and_the_apps_migrate_step_is_a_no_op(
        store: Store, app_factory) -> None:
    """Each test's database is a copy of one migrated once per session: ``create_app`` (which
    migrates at start) finds nothing to do, changes nothing, and the app is ready."""

    def schema() -> tuple:
        with store.engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        return versions, sorted(inspect(store.engine).get_table_names())

    before = schema()
    assert before[0] == [migrate.head()] and not migrate.pending(store.engine)
    app_factory(migrate=True)
    assert schema() == before and store.ready() == (True, "ok")
    who = store.create_subscriber("acme", preferences=prefs(offers__email=OPTED_IN))
    assert store.verify_chain(who).intact


@SQLITE_ONLY
def test_sqlite_runs_in_wal_with_durable_commits(store: Store) -> None:
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_a_save_writes_state_and_its_event_together(store: Store, subscriber: str) -> None:
    result = store.save("acme", subscriber, prefs(offers__email=OPTED_OUT, offers__sms=OPTED_IN),
                        base_version=1, context=WEB, submission_id="form-1")
    assert result.outcome == "saved" and result.preferences.version == 2
    state = store.get("acme", subscriber).preferences
    assert state.state("offers", "email") == OPTED_OUT and state.opted_in("offers", "sms")
    event = store.events(subscriber)[-1]
    assert event["version"] == 2 and event["source"] == "web" and event["actor"] == "subject"
    assert event["notice_version"] == "2026-11-01" and event["locale"] == "fr"
    # Each subscription's change carries the basis it reached: an opt-out keeps the basis withdrawn.
    changes = {c["path"]: c for c in event["changes"]}
    assert (changes["offers.email"]["from"], changes["offers.email"]["to"]) == (OPTED_IN, OPTED_OUT)
    assert (changes["offers.sms"]["from"], changes["offers.sms"]["to"]) == ("unknown", OPTED_IN)
    basis = changes["offers.sms"]["basis"]
    assert basis["legal_basis"] == "consent" and basis["until"] is None
    assert state.basis("offers", "email").legal_basis == "consent"


def test_the_hash_chain_verifies_and_detects_an_edit(store: Store, subscriber: str) -> None:
    for version in (1, 2, 3):
        state = OPTED_OUT if version % 2 else OPTED_IN
        store.save("acme", subscriber, prefs(offers__email=state), base_version=version, context=WEB)
    report = store.verify_chain(subscriber)
    assert report.intact and report.events == 4
    behind_our_back(store, "UPDATE events SET actor = 'agent:mallory' WHERE version = 2")
    assert store.verify_chain(subscriber).broken_at == [2]


def test_the_chain_detects_a_removed_event(store: Store, subscriber: str) -> None:
    for version in (1, 2):
        store.save("acme", subscriber, prefs(offers__email=OPTED_OUT if version == 1 else OPTED_IN),
                   base_version=version, context=WEB)
    behind_our_back(store, "DELETE FROM events WHERE version = 2")
    assert not store.verify_chain(subscriber).intact


def test_a_stale_form_is_refused_with_the_fresh_state(store: Store, subscriber: str) -> None:
    store.save("acme", subscriber, prefs(offers__email=OPTED_OUT), base_version=1, context=WEB)
    with pytest.raises(VersionConflict) as caught:
        store.save("acme", subscriber, prefs(offers__sms=OPTED_IN, offers__email=OPTED_IN),
                   base_version=1, context=WEB)
    assert caught.value.current.version == 2
    assert caught.value.current.state("offers", "email") == OPTED_OUT
    assert len(store.events(subscriber)) == 2  # nothing written by the refused save


def test_the_same_form_saved_twice_records_one_change(store: Store, subscriber: str) -> None:
    desired = prefs(offers__email=OPTED_OUT)
    first = store.save("acme", subscriber, desired, base_version=1, context=WEB, submission_id="form-7")
    second = store.save("acme", subscriber, desired, base_version=1, context=WEB, submission_id="form-7")
    assert (first.outcome, second.outcome) == ("saved", "repeat")
    assert len(store.events(subscriber)) == 2


def test_a_stale_form_asking_for_the_current_state_is_not_a_conflict(store: Store, subscriber: str) -> None:
    store.save("acme", subscriber, prefs(offers__email=OPTED_OUT), base_version=1, context=WEB)
    again = store.save("acme", subscriber, prefs(offers__email=OPTED_OUT), base_version=1, context=WEB)
    assert again.outcome == "unchanged" and len(store.events(subscriber)) == 2


def test_saving_without_a_change_writes_no_event(store: Store, subscriber: str) -> None:
    result = store.save("acme", subscriber, prefs(offers__email=OPTED_IN), base_version=1, context=WEB)
    assert result.outcome == "unchanged" and len(store.events(subscriber)) == 1


def test_a_failure_inside_the_transaction_leaves_state_and_history_untouched(store: Store, subscriber: str) -> None:
    bad = EventContext(source="web", actor="subject", context={"not_json": object()})
    with pytest.raises(TypeError, match="hash"):  # fails after the state rows were touched
        store.save("acme", subscriber, prefs(offers__email=OPTED_OUT), base_version=1, context=bad)
    assert store.get("acme", subscriber).preferences.opted_in("offers", "email")
    assert len(store.events(subscriber)) == 1 and store.verify_chain(subscriber).intact


def test_concurrent_saves_of_the_same_version_let_exactly_one_win(store: Store, subscriber: str) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def save(channel: str) -> None:
        barrier.wait()
        try:
            store.save("acme", subscriber, prefs(offers__email=OPTED_IN, **{f"offers__{channel}": OPTED_IN}),
                       base_version=1, context=WEB)
            outcomes.append("saved")
        except VersionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(f"c{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["saved"]
    assert store.verify_chain(subscriber).intact


def test_unknown_subscriber_and_wrong_center(store: Store, subscriber: str) -> None:
    with pytest.raises(UnknownSubscriber):
        store.save("other-center", subscriber, prefs(), base_version=1, context=WEB)
    assert store.get("other-center", subscriber) is None


def test_contact_points_are_found_by_keyed_hash_not_stored_in_the_clear_index(store: Store, subscriber: str) -> None:
    assert store.find_by_contact("acme", "email", "  ann@EXAMPLE.org ") == subscriber
    assert store.find_by_contact("other-center", "email", "ann@example.org") is None
    assert store.lookup_hash("acme", "email", "ann@example.org") != store.lookup_hash("b", "email", "ann@example.org")


def test_revoking_links_makes_them_valid_only_from_the_next_second(store: Store, subscriber: str, clock) -> None:
    # Links carry whole seconds: one signed in the second of the revocation is revoked too.
    clock.advance(seconds=0.25)
    after = store.revoke_links(subscriber)
    assert after == clock().replace(microsecond=0) + timedelta(seconds=1)
    assert store.get("acme", subscriber).valid_after == after


def test_revoking_the_links_of_nobody_says_so(store: Store, subscriber: str) -> None:
    assert store.revoke_links("sub_nobody") is None
    with store.writing() as connection:
        assert store.revoke_links_in(connection, subscriber, center="other-center") is None
    assert store.get("acme", subscriber).valid_after is None


def test_subscriber_ids_are_opaque(store: Store) -> None:
    ids = {store.create_subscriber("acme", email="same@example.org" if i == 0 else None) for i in range(50)}
    assert len(ids) == 50 and all(i.startswith("sub_") and "@" not in i for i in ids)


def test_a_save_from_a_state_read_before_someone_else_wrote_is_a_conflict(store: Store, subscriber: str) -> None:
    seen = store.get("acme", subscriber).preferences  # read outside the write, as the widget does
    store.save("acme", subscriber, prefs(offers__email=OPTED_OUT), base_version=1, context=WEB)
    with pytest.raises(VersionConflict) as caught:
        store.save("acme", subscriber, prefs(offers__email=OPTED_IN, offers__sms=OPTED_IN),
                   base_version=1, context=WEB, seen=seen)
    assert caught.value.current.version == 2 and len(store.events(subscriber)) == 2


def test_a_repeat_is_recognised_when_the_caller_passes_what_it_saw(store: Store, subscriber: str) -> None:
    seen = store.get("acme", subscriber).preferences
    desired = prefs(offers__email=OPTED_OUT)
    results = [store.save("acme", subscriber, desired, base_version=1, context=WEB, submission_id="f", seen=seen)
               for _ in range(2)]
    assert [r.outcome for r in results] == ["saved", "repeat"] and len(store.events(subscriber)) == 2


def test_a_database_error_does_not_carry_personal_data_into_messages(store: Store) -> None:
    store.create_subscriber("acme", email="ann@example.org")
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as caught:  # the same address twice breaks the unique lookup hash
        store.create_subscriber("acme", email="ann@example.org")
    assert "ann@example.org" not in str(caught.value)


@SQLITE_ONLY  # a networked engine reads off the event loop whatever the size
def test_a_small_read_runs_inline_on_sqlite_and_a_large_one_off_the_event_loop(store: Store) -> None:
    import anyio

    async def threads() -> tuple[bool, bool]:
        loop_thread = threading.get_ident()
        small = await store.run_sync(threading.get_ident)
        large = await store.run_sync(threading.get_ident, large=True)
        return small == loop_thread, large == loop_thread

    assert anyio.run(threads) == (True, False)
