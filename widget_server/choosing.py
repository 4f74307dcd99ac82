"""A person's choices, checked against what the center offers, applied to their preferences.

Every surface that changes preferences reads its own input into :class:`Choices` (the
widget's form in ``web/forms.py``, an API body in ``web/routes/api/choices.py``, an
import row through the API's rules; the kiosk and agent console to come) and calls
:func:`apply`. So one place decides what a center offers and what a choice does:

* a topic must exist and be switchable (``required`` topics are not anyone's to
  change), and a channel must be one the topic is offered on;
* a frequency must be one the topic offers; ``None`` goes back to the default;
* interests must be the center's;
* opting in to a switchable subscription lifts a suppression; ``suppress`` is "unsubscribe from
  everything" (``True``) or an explicit comeback (``False``);
* ``replacing`` (an API ``PUT``) resets what the choices leave out, except the
  required topics' states, which stay as they are;
* each subscription a choice changes gets its legal basis (:mod:`widget_server.legal_bases`),
  by the rules of the subscriber's region (their country, or the one the same choices give);
  a basis the region does not allow on that channel is refused;
* **the pending rule**: an opt-in by consent that the topic or the region asks to confirm
  (:func:`widget_server.regions.needs_confirmation`) becomes ``pending`` (consent asked now,
  until now + ``[consent] pending_days``) instead of ``opted_in``, unless this write has
  proven that channel's address (:attr:`Rules.confirmed`: a kiosk's one-time code sent by
  e-mail, the confirmation link itself). An ``opted_in`` subscription stays as it is, a
  ``pending`` one keeps waiting (its deadline is not moved by asking again);
* ``expired`` is the system's (a confirmation that never came, a basis that ended): no
  choice may set it; opting in again starts afresh.

This is the one place the pending rule lives, so every surface that opts someone in (the
widget, the API, the import with its ``double_opt_in`` option, the kiosk, the agent console)
applies it by calling :func:`apply` with its :class:`Rules`.

Every value that cannot be honoured is reported with its path, all at once, as
:class:`~widget_server.errors.InvalidValues`; nothing is applied then.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Mapping

from . import countries, legal_bases
from .centers.model import Center
from .errors import InvalidValues
from .preferences import EXPIRED, OPTED_IN, OPTED_OUT, PENDING, UNKNOWN, Basis, Key, Preferences, suppress_all
from .regions import needs_confirmation


class _Keep:
    """The pause is left as it is (distinct from ``None``: no pause)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


@dataclass(frozen=True)
class Requested:
    """A basis a write names for one opt-in (the API's ``{"state": "opted_in", "legal_basis": ...}``):
    ``since`` when it was given (an old purchase), default the write's time."""

    legal_basis: str
    reason: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class Rules:
    """What the law asks of one write, besides what the person chose.

    ``now`` dates the bases. ``confirmed``: the channels whose address this write has just
    proven (``{"email"}`` for a kiosk customer verified by a code mailed to them, or the
    confirmation link): no confirmation is waited for on them. ``pending``: whether the
    pending rule applies at all; only an import may say no (its ``double_opt_in`` option
    off: legacy opt-ins are recorded as they were given, with their legacy evidence).
    """

    now: datetime
    confirmed: frozenset[str] = frozenset()
    pending: bool = True


@dataclass(frozen=True)
class Choices:
    """What is asked to change. Anything left at its default is left as it is (unless ``replacing``).

    A subscription state of ``unknown`` forgets the answer (as if never asked).
    """

    subscriptions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # topic -> channel -> state
    frequencies: Mapping[str, str | None] = field(default_factory=dict)  # None: the topic's default again
    interests: frozenset[str] | None = None  # None: leave them
    paused_until: datetime | None | _Keep = KEEP
    suppress: bool | None = None
    replacing: bool = False
    #: Topic -> channel -> the basis an opt-in names (the API); an opt-in without one is consent.
    bases: Mapping[str, Mapping[str, Requested]] = field(default_factory=dict)
    #: The subscriber's country (ISO 3166 alpha-2); None: not known; KEEP: left as it is.
    country: str | None | _Keep = KEEP


Problem = dict[str, str]  # {"path": ..., "message": ...}


def apply(center: Center, current: Preferences, choices: Choices, *, rules: Rules) -> Preferences:
    """``current`` changed as ``choices`` ask, under ``rules``, or :class:`InvalidValues` listing
    every problem."""
    problems: list[Problem] = []
    country = _country(current, choices, problems)
    subscriptions, bases = _subscriptions(center, current, choices, problems, rules, country)
    frequencies = _frequencies(center, current, choices, problems)
    interests = _interests(center, current, choices, problems)
    paused = _pause(current, choices, problems)
    if problems:
        raise InvalidValues(center=center, errors=problems)
    # A suppression stays on (even through a PUT) until something is opted in again: a
    # switchable subscription, since "unsubscribe from everything" leaves required topics
    # (and topics the center no longer offers) as they were, and those are no comeback. An
    # opt-in waiting for its confirmation is the person's comeback too.
    switchable = {(t.id, c) for t in center.switchable_topics for c in t.channels}
    opted_in_any = any(state in (OPTED_IN, PENDING) for key, state in subscriptions.items() if key in switchable)
    result = replace(current, subscriptions=subscriptions, frequencies=frequencies, interests=interests,
                     paused_until=paused, suppressed=current.suppressed and not opted_in_any, bases=bases,
                     country=country)
    if choices.suppress is True:
        return suppress_all(center, result)
    if choices.suppress is False:
        return replace(result, suppressed=False)
    return result


def _subscriptions(center: Center, current: Preferences, choices: Choices, problems: list[Problem],
                   rules: Rules, country: str | None) -> tuple[dict[Key, str], dict[Key, Basis]]:
    if choices.replacing:  # required topics are not the caller's to reset
        required = {t.id for t in center.topics if not t.switchable}
        chosen = {k: v for k, v in current.subscriptions.items() if k[0] in required}
    else:
        chosen = dict(current.subscriptions)
    bases = {k: b for k, b in current.bases.items() if k in chosen}
    for topic_id, channels in choices.subscriptions.items():
        topic = center.topic(topic_id)
        if topic is None:
            problems.append({"path": f"subscriptions.{topic_id}", "message": "no such topic in this center"})
            continue
        if not topic.switchable:
            problems.append({"path": f"subscriptions.{topic_id}", "message": "a required topic cannot be changed"})
            continue
        for channel, state in channels.items():
            path = f"subscriptions.{topic_id}.{channel}"
            if channel not in topic.channels:
                problems.append({"path": path, "message": f"this topic is offered on {', '.join(topic.channels)}"})
            elif state == EXPIRED:
                problems.append({"path": path, "message": "only the system sets expired; opt in or out instead"})
            elif state == UNKNOWN:
                chosen.pop((topic_id, channel), None)
                bases.pop((topic_id, channel), None)
            else:
                requested = choices.bases.get(topic_id, {}).get(channel)
                reached = _reached(center, current, (topic_id, channel), state, requested, rules, country, path,
                                   problems)
                if reached is not None:
                    chosen[(topic_id, channel)], basis = reached
                    if basis is not None:
                        bases[(topic_id, channel)] = basis
    return chosen, bases


def _reached(center: Center, current: Preferences, key: Key, state: str, requested: Requested | None,
             rules: Rules, country: str | None, path: str, problems: list[Problem]) -> tuple[str, Basis | None] | None:
    """The state and basis one choice leads to (None: a problem, reported; a basis of None: the
    subscription is left as it is, whatever basis it has)."""
    was, basis = current.state(*key), current.bases.get(key)
    if state == OPTED_OUT:
        return OPTED_OUT, (basis if was == OPTED_OUT else legal_bases.withdrawn(basis, rules.now))
    if state == PENDING:  # the API may say so itself: consent asked, awaiting its confirmation
        return PENDING, (basis if was == PENDING else legal_bases.pending_basis(center, rules.now))
    if was == OPTED_IN and (requested is None or basis is not None and _same(basis, requested)):
        return OPTED_IN, basis  # already in (on that basis): nothing to record again
    wanted = requested or Requested(legal_bases.CONSENT)
    if wanted.legal_basis == legal_bases.CONSENT and rules.pending and key[1] not in rules.confirmed \
            and needs_confirmation(center, country, key[0], key[1]):
        if was == OPTED_IN:
            return OPTED_IN, basis  # a consent already given (and confirmed) stays
        if was == PENDING:
            return PENDING, basis  # still waiting: asking again moves no deadline
        return PENDING, legal_bases.pending_basis(center, rules.now)
    since = wanted.since or rules.now
    if since.tzinfo is None or since > rules.now:
        problems.append({"path": f"{path}.since", "message": "a time with its zone, not in the future"})
        return None
    try:
        return OPTED_IN, legal_bases.basis_for(center, country, key[0], key[1], wanted.legal_basis, wanted.reason,
                                               since=since)
    except legal_bases.BasisNotAllowed as refused:
        problems.append({"path": f"{path}.legal_basis", "message": str(refused)})
        return None


def _same(basis: Basis, requested: Requested) -> bool:
    return (basis.legal_basis, basis.reason) == (requested.legal_basis, requested.reason) and \
        requested.since in (None, basis.since)


def _country(current: Preferences, choices: Choices, problems: list[Problem]) -> str | None:
    if isinstance(choices.country, _Keep):
        return current.country
    if choices.country is not None and (problem := countries.problem(choices.country)):
        problems.append({"path": "country", "message": problem})
        return current.country
    return choices.country


def _frequencies(center: Center, current: Preferences, choices: Choices,
                 problems: list[Problem]) -> dict[str, str]:
    chosen = {} if choices.replacing else dict(current.frequencies)
    for topic_id, frequency in choices.frequencies.items():
        topic = center.topic(topic_id)
        if topic is None or not topic.frequencies:
            problems.append({"path": f"frequencies.{topic_id}", "message": "this topic offers no frequency choice"})
        elif frequency is None:
            chosen.pop(topic_id, None)
        elif frequency not in topic.frequencies:
            problems.append({"path": f"frequencies.{topic_id}", "message": f"offered: {', '.join(topic.frequencies)}"})
        else:
            chosen[topic_id] = frequency
    return chosen


def _interests(center: Center, current: Preferences, choices: Choices,
               problems: list[Problem]) -> frozenset[str]:
    if choices.interests is None:
        return frozenset() if choices.replacing else current.interests
    offered = {i.id for i in center.interests}
    for unknown in sorted(choices.interests - offered):
        problems.append({"path": f"interests.{unknown}", "message": "no such interest in this center"})
    return choices.interests & offered


def _pause(current: Preferences, choices: Choices, problems: list[Problem]) -> datetime | None:
    until = choices.paused_until
    if isinstance(until, _Keep):
        return None if choices.replacing else current.paused_until
    if until is None:
        return None
    if until.tzinfo is None:
        problems.append({"path": "paused_until", "message": "give a time zone, e.g. 2026-12-01T00:00:00Z"})
        return None
    try:
        if not 2000 <= until.astimezone(timezone.utc).year <= 9000:
            raise OverflowError
    except OverflowError:
        problems.append({"path": "paused_until", "message": "a date between the years 2000 and 9000"})
    return until
