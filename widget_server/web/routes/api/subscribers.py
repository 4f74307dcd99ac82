"""``/api/v1/centers/{center}/subscribers``: create, find, read, and write preferences."""

from __future__ import annotations

import re
from typing import Annotated, Any, cast

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import UNSET
from sqlalchemy import Connection

from .... import json_shapes
from ....centers.model import Center
from ....errors import BadRequest, Conflict, InvalidValues, NotFound, StaleVersion, VersionRequired
from ....ledger import EventContext
from ....preferences import Preferences, suppress_all
from ....store.store import Store, Subscriber, VersionConflict
from ...dependencies import AppState
from ...openapi import documented
from . import choices
from .bodies import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    IF_MATCH_REQUIRED,
    PRINTABLE,
    PreferencesDocument,
    PreferencesWrite,
    SubscriberCreate,
    SubscriberList,
    problems,
    write_problems,
)
from .writes import Answer, ApiWrite

ETAG = [ResponseHeader(name="ETag", description="The version, to send back in If-Match", documentation_only=True)]


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def load(store: Store, connection: Connection, center: Center, subscriber_id: str) -> Subscriber:
    subscriber = store.get_in(connection, center.id, subscriber_id)
    if subscriber is None:
        raise NotFound(center=center)
    return subscriber


#: An entity tag as we send them: a version number, quoted (RFC 9110 §8.8.3), optionally weak.
_ENTITY_TAG = re.compile(r'\s*(W/)?"([0-9]{1,18})"\s*')


def _if_match(request: Request, *, required: bool) -> frozenset[str] | None:
    """The entity tags If-Match accepts (``"3"``, or a list ``"3", "4"``), None for ``*`` or when absent.

    If-Match compares strongly (RFC 9110 §13.1.1): a weak tag (``W/"3"``) matches nothing,
    so a write that sends only weak tags is answered 412, as a stale one is.
    """
    raw = request.headers.get("if-match")
    if raw is None:
        if required:
            raise VersionRequired()
        return None
    if raw.strip() == "*":
        if required:  # a replacing write must say which version it replaces
            raise BadRequest(errors=[{"path": "If-Match", "message": 'the ETag you read, e.g. "3", not *'}])
        return None
    tags = [_ENTITY_TAG.fullmatch(item) for item in raw.split(",")]
    if not all(tags):
        raise BadRequest(errors=[{"path": "If-Match", "message": 'the ETag you read, e.g. "3"'}])
    return frozenset(tag.group(2) for tag in tags if tag and not tag.group(1))  # compared as strings: "03" is not "3"


#: A 412 for weak tags alone says why: a compressing proxy may have weakened our ETag.
_WEAK_ONLY = {"errors": [{"path": "If-Match", "message": 'a weak tag (W/"...") never matches: send the version '
                                                       'you read as a strong tag, e.g. "3"'}]}


def _context(request: Request, center: Center, body: PreferencesWrite | None) -> EventContext:
    key = request.state.api_key
    if body is None:
        return EventContext(source="api", actor=key.actor)
    # A notice text only when the body names a version whose text this server holds (the host's
    # own form may have shown anything: store/notice_texts.py).
    held = AppState.of(request.app).store.notice_texts.named(center.id, body.notice_version, body.locale)
    return EventContext(
        source=body.source, actor=key.actor, locale=body.locale,
        notice_version=body.notice_version or center.notice_version, evidence=body.evidence, notice_text=held,
    )


def _document_answer(store: Store, connection: Connection, center: Center, subscriber_id: str,
                     status: int = 200) -> Answer:
    subscriber = load(store, connection, center, subscriber_id)
    return Answer(json_shapes.document(center, subscriber), status, _etag(subscriber.preferences.version))


class SubscribersController(Controller):
    path = "/subscribers"
    tags = ["subscribers"]

    @post("/", opt={"scope": "write"}, status_code=201, summary="Create a subscriber", response_headers=ETAG,
          responses=write_problems(413, 415), operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def create(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        write: NamedDependency[ApiWrite],
        data: JSONBody[SubscriberCreate],
    ) -> Response[PreferencesDocument]:
        if data.locale is not None and data.locale not in center.locales:
            raise InvalidValues(center=center, errors=[{"path": "locale", "message": "not a locale of this center"}])

        def work(connection: Connection) -> Answer:
            if data.external_id is not None:
                taken = store.find_by_external_id_in(connection, center.id, data.external_id)
                if taken:
                    raise Conflict(center=center, subscriber_id=taken)
            if data.email is not None:
                taken = store.find_by_contact_in(connection, center.id, "email", data.email)
                if taken:
                    raise Conflict(center=center, subscriber_id=taken)
            prefs = None
            body = data.preferences or (PreferencesWrite() if data.country is not None else None)
            if body is not None:  # the country is recorded in the first event, with the first choices
                prefs = choices.desired(center, Preferences(), body, replacing=True, now=store.clock(),
                                        country=UNSET if data.country is None else data.country)
            if any(value is not None and store.is_suppressed_in(connection, center.id, kind, value)
                   for kind, value in (("email", data.email), ("external_id", data.external_id))):
                prefs = suppress_all(center, prefs or Preferences())  # erased before: back, but suppressed
            subscriber_id = store.create_in(
                connection, center.id, locale=data.locale, preferences=prefs, email=data.email,
                external_id=data.external_id, context=_context(request, center, data.preferences),
            )
            answer = _document_answer(store, connection, center, subscriber_id, 201)
            answer.headers["Location"] = f"/api/v1/centers/{center.id}/subscribers/{subscriber_id}"
            return answer

        return await write(work)

    @get("/", opt={"scope": "read"}, summary="Find subscribers by external (CRM) id", responses=problems())
    async def find(
        self, center: NamedDependency[Center], store: NamedDependency[Store],
        external_id: Annotated[str, QueryParameter(min_length=1, max_length=128, pattern=PRINTABLE)],
    ) -> SubscriberList:

        def read() -> dict[str, Any]:
            with store.engine.connect() as connection:
                found = store.find_by_external_id_in(connection, center.id, external_id)
                subscriber = store.get_in(connection, center.id, found) if found else None
            return {"subscribers": [json_shapes.document(center, subscriber)] if subscriber else []}

        return cast(SubscriberList, await store.run_sync(read))  # a dict of json_shapes, sent as that shape

    @get("/{subscriber_id:str}", opt={"scope": "read"}, summary="Read a subscriber's preferences",
         response_headers=ETAG, responses=problems())
    async def read(
        self, center: NamedDependency[Center], store: NamedDependency[Store], subscriber_id: FromPath[str],
    ) -> Response[PreferencesDocument]:
        subscriber = await store.run_sync(store.get, center.id, subscriber_id)
        if subscriber is None:
            raise NotFound(center=center)
        document = cast(PreferencesDocument, json_shapes.document(center, subscriber))
        return Response(document, headers=_etag(subscriber.preferences.version))

    @put("/{subscriber_id:str}/preferences", opt={"scope": "write"}, response_headers=ETAG,
         summary="Replace a subscriber's choices (If-Match required)", responses=write_problems(412, 413, 415, 428),
         operation_class=documented(parameters=[IF_MATCH_REQUIRED, IDEMPOTENCY_KEY]))
    async def replace(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        write: NamedDependency[ApiWrite],
        subscriber_id: FromPath[str],
        data: JSONBody[PreferencesWrite],
    ) -> Response[PreferencesDocument]:
        return await self._write(request, center, store, write, subscriber_id, data, replacing=True)

    @patch("/{subscriber_id:str}/preferences", opt={"scope": "write"}, response_headers=ETAG,
           summary="Change some of a subscriber's choices", responses=write_problems(412, 413, 415),
           operation_class=documented(parameters=[IF_MATCH, IDEMPOTENCY_KEY]))
    async def change(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        write: NamedDependency[ApiWrite],
        subscriber_id: FromPath[str],
        data: JSONBody[PreferencesWrite],
    ) -> Response[PreferencesDocument]:
        return await self._write(request, center, store, write, subscriber_id, data, replacing=False)

    async def _write(self, request: Request, center: Center, store: Store, write: ApiWrite, subscriber_id: str,
                     data: PreferencesWrite, *, replacing: bool) -> Response:
        expected = _if_match(request, required=replacing)
        context = _context(request, center, data)

        def work(connection: Connection) -> Answer:
            subscriber = load(store, connection, center, subscriber_id)
            current = subscriber.preferences
            if expected is not None and str(current.version) not in expected:
                raise StaleVersion(center=center, current_version=current.version,
                                   **({} if expected else _WEAK_ONLY))  # type: ignore[arg-type]  # extra members
            if subscriber.erased_at is not None:
                raise Conflict(center=center, subscriber_id=subscriber_id)
            wanted = choices.desired(center, current, data, replacing=replacing, now=store.clock())
            try:
                store.save_in(connection, center.id, subscriber_id, wanted, base_version=current.version,
                              context=context, seen=current)
            except VersionConflict as stale:  # the version moved between the read and the write
                raise StaleVersion(center=center, current_version=stale.current.version) from None
            return _document_answer(store, connection, center, subscriber_id)

        return await write(work)
