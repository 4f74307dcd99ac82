"""The proof of a subscriber's consent, for a host's systems and their auditors: is the
chain intact (``/verification``, what ``widget-server verify-chain`` checks, for one), and
what words were shown (``/notices/{hash}``: the text an event's ``notice_text`` names), and
a signed consent receipt (``/receipt``: ISO/IEC TS 27560, ``receipts.py``), which a third
party checks with the key published at ``/.well-known/jwks.json``.

Read scope: verifying proves nothing about a person that reading their events does not
already show, and a host's support or compliance tool should not need an admin key.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from msgspec import Struct

from .... import json_shapes
from ....centers.model import Center
from ....errors import NotFound
from ....receipt_signing import signer_for
from ....receipts import receipt
from ....store import notice_texts
from ....store.gdpr import export
from ....store.store import Store
from ....store.verification import check_subscriber
from ...dependencies import Clock
from .bodies import Instant, problems


class ChainBreak(Struct):
    """One thing wrong: which event (``null`` for the anchor on the subscriber's row) and what."""

    event_id: int | None
    version: int | None
    reason: str


class Verification(Struct):
    """A subscriber's chain, checked under the server's keys."""

    subscriber_id: str
    intact: bool
    events: int  # events found
    legacy: int  # of them, written before keying (plain SHA-256): intact as far as that can tell
    anchored: bool  # the subscriber's anchor (count, hash, seal) matched what was found
    broken: list[ChainBreak]


class NoticeText(Struct):
    """The wording a surface showed, word for word, as kept (``store/notice_texts.py``)."""

    hash: str  # SHA-256 of ``text`` in canonical JSON (sorted keys, no spaces, UTF-8)
    center: str
    notice_version: str | None
    locale: str | None
    created_at: Instant
    text: dict[str, Any]  # title, intro, privacy_url, topics (labels, descriptions, channels), interests


@get("/notices/{digest:str}", opt={"scope": "read"}, summary="The wording an event's notice_text names",
     responses=problems(), tags=["proof"])
async def notice_text(
    center: NamedDependency[Center], store: NamedDependency[Store], digest: FromPath[str],
) -> NoticeText:
    """What the person read: the labels and descriptions as rendered for that center, notice
    version and locale. The hash is of the text itself, so anyone can check it."""

    def read() -> dict[str, Any] | None:
        with store.engine.connect() as connection:
            return notice_texts.text_of(connection, center.id, digest)

    found = await store.run_sync(read)
    if found is None:
        raise NotFound(center=center)
    return {**found, "created_at": json_shapes.instant(found["created_at"])}  # type: ignore[return-value]


class SignedReceipt(Struct):
    """A consent receipt and its signature: ``jws`` is a compact JWS (EdDSA, Ed25519) whose
    payload is ``receipt`` in canonical JSON; verify it with ``/.well-known/jwks.json``."""

    jws: str
    kid: str
    receipt: dict[str, Any]


class ProofController(Controller):
    path = "/subscribers"
    tags = ["proof"]

    @get("/{subscriber_id:str}/verification", opt={"scope": "read"}, summary="Check a subscriber's event chain",
         responses=problems())
    async def verification(
        self, center: NamedDependency[Center], store: NamedDependency[Store], subscriber_id: FromPath[str],
    ) -> Verification:
        """Every event of the subscriber checked (its keyed hash, its link to the one before,
        its version) and their anchor (count, latest hash, seal): ``intact`` false names each
        break. ``verify-chain`` does this for the whole database."""

        def read() -> dict[str, Any] | None:
            with store.engine.connect() as connection:
                found = check_subscriber(connection, store.chain_keys, center.id, subscriber_id)
            if found is None:
                return None
            report = found.report
            return {"subscriber_id": subscriber_id, "intact": report.intact, "events": report.events,
                    "legacy": report.legacy, "anchored": report.anchored,
                    "broken": [b.as_dict() for b in report.breaks]}

        answer = await store.run_sync(read, large=True)
        if answer is None:
            raise NotFound(center=center)
        return answer  # type: ignore[return-value]

    @get("/{subscriber_id:str}/receipt", opt={"scope": "read"}, summary="A signed consent receipt (ISO/IEC TS 27560)",
         responses=problems())
    async def receipt(
        self, center: NamedDependency[Center], store: NamedDependency[Store], clock: NamedDependency[Clock],
        subscriber_id: FromPath[str],
        event: Annotated[int | None, QueryParameter(ge=1, description="One event's receipt (its id); "
                                                                      "without it, the whole history")] = None,
    ) -> SignedReceipt:
        """The subscriber's history (or one event of it) as an ISO/IEC TS 27560 consent record:
        purposes with their lawful basis and state, each event with the notice text shown and
        the chain's hashes, and the chain's verification; signed with Ed25519 so that anyone
        can check it against the published key without a secret of ours."""

        def read() -> dict[str, Any] | None:
            with store.engine.connect() as connection:
                held = export(store, connection, center.id, subscriber_id)
                checked = check_subscriber(connection, store.chain_keys, center.id, subscriber_id)
            if held is None or checked is None:
                return None
            if event is not None and all(e["id"] != event for e in held["events"]):
                return None
            document = receipt(center, held["subscriber"], held["events"], held["notice_texts"], checked.report,
                               clock(), event)
            signer = signer_for(store.chain_keys)
            return {"jws": signer.sign(document), "kid": signer.current, "receipt": document}

        answer = await store.run_sync(read, large=True)
        if answer is None:
            raise NotFound(center=center)
        return answer  # type: ignore[return-value]
