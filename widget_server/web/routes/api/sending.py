"""What a sender asks about one subscriber: may I send this now (``/decision``), and a
signed link to put in the message (``/links``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from preference_sdk import TokenSigner, _decision
from preference_sdk._models import CenterInfo
from preference_sdk._models import Preferences as SdkPreferences

from .... import json_shapes
from ....centers.model import Center
from ....errors import Conflict, InvalidValues, NotFound
from ....settings import Settings
from ....store.store import Store
from ...dependencies import Clock
from .bodies import PRINTABLE, DecisionOut, LinkOut, LinkRequest, problems, rfc3339

_center_infos: dict[int, tuple[Center, CenterInfo]] = {}


def center_info(center: Center) -> CenterInfo:
    """The center as the SDK's decision sees it; centers are frozen, so built once each."""
    known = _center_infos.get(id(center))
    if known is None or known[0] is not center:
        known = _center_infos[id(center)] = (center, CenterInfo.from_json(json_shapes.center_definition(center)))
    return known[1]


class SendingController(Controller):
    path = "/subscribers"
    tags = ["sending"]

    @get("/{subscriber_id:str}/decision", opt={"scope": "read"}, summary="May we send this now? (can_contact)",
         responses=problems())
    async def decision(
        self,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        subscriber_id: FromPath[str],
        topic: Annotated[str, QueryParameter(min_length=1, max_length=64, pattern=PRINTABLE)],
        channel: Annotated[str, QueryParameter(min_length=1, max_length=32, pattern=PRINTABLE)],
        at: Annotated[str | None, QueryParameter(schema_extra={"format": "date-time"},
                                                 description="When to send: RFC 3339, with its offset")] = None,
        digest: FromQuery[bool] = False,
    ) -> DecisionOut:
        subscriber = await store.run_sync(store.get, center.id, subscriber_id)
        if subscriber is None:
            raise NotFound(center=center)
        when = rfc3339("at", at) if at is not None else clock()
        if subscriber.erased_at is not None:  # no topic, not even a required one, reaches an erased person
            return DecisionOut(False, _decision.ERASED, None)
        prefs = SdkPreferences.from_json(json_shapes.document(center, subscriber))
        answer = _decision.can_contact(prefs, center_info(center), topic, channel,
                                       at=when, digest=digest)
        return DecisionOut(answer.allowed, answer.reason, answer.frequency, answer.legal_basis)

    @post("/{subscriber_id:str}/links", opt={"scope": "write"}, status_code=201, summary="Mint a signed link",
          responses=problems(409, 413, 415, 422))
    async def link(
        self,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        signer: NamedDependency[TokenSigner],
        settings: NamedDependency[Settings],
        subscriber_id: FromPath[str],
        data: JSONBody[LinkRequest],
    ) -> LinkOut:
        subscriber = await store.run_sync(store.get, center.id, subscriber_id)
        if subscriber is None:
            raise NotFound(center=center)
        if subscriber.erased_at is not None:
            raise Conflict(center=center, subscriber_id=subscriber_id)  # no way back in for an erased record
        errors = _link_errors(center, data)
        if errors:
            raise InvalidValues(center=center, errors=errors)
        extra = {"l": data.locale}
        if data.scope == "unsubscribe":
            extra.update(tp=data.topic, ch=data.channel)
        token = signer.mint(data.scope, center.id, subscriber_id, **extra)
        page = "preferences" if data.scope == "manage" else "unsubscribe"
        url = f"{settings.base_url}/c/{center.id}/{page}?t={token}"
        expires = clock() + timedelta(seconds=signer.lifetimes[data.scope])
        return LinkOut(token, url, expires)


def _link_errors(center: Center, data: JSONBody[LinkRequest]) -> list[dict[str, str]]:
    errors = []
    if data.locale is not None and data.locale not in center.locales:
        errors.append({"path": "locale", "message": "not a locale of this center"})
    if data.scope == "manage" and (data.topic or data.channel):
        errors.append({"path": "topic", "message": "only unsubscribe links name a topic"})
    if data.scope == "unsubscribe" and data.topic is not None:
        topic = center.topic(data.topic)
        if topic is None or not topic.switchable:
            errors.append({"path": "topic", "message": "no such switchable topic in this center"})
        elif (data.channel or "email") not in topic.channels:
            errors.append({"path": "channel", "message": f"this topic is offered on {', '.join(topic.channels)}"})
    elif data.channel is not None:
        errors.append({"path": "channel", "message": "a channel needs a topic"})
    return errors
