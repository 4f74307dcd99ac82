"""The proof of a subscriber's consent, for a host's systems and their auditors: is the
chain intact (``/verification``, what ``widget-server verify-chain`` checks, for one).

Read scope: verifying proves nothing about a person that reading their events does not
already show, and a host's support or compliance tool should not need an admin key.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from msgspec import Struct

from ....centers.model import Center
from ....errors import NotFound
from ....store.store import Store
from ....store.verification import check_subscriber
from .bodies import problems


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
