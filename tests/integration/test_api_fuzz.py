"""Schemathesis against the OpenAPI document of the app in-process (its ASGI mode, which runs the
app's lifespan and ends it when the test ends): the document matches the server.

Every operation in the document (the JSON API, the widget's pages, the health checks) is called
with generated inputs, valid and invalid, by a key that may do everything, in a center that
exists, with subscriber ids that are sometimes real; every answer goes through every check
schemathesis has, as ``schemathesis run --checks all`` does: no server error, every status, content
type and header documented, every body as documented, valid requests accepted and invalid ones
refused, ``OPTIONS`` and ``405`` naming the methods there are, a required header missing refused,
no answer without the key. Their settings (the center, the statuses a valid request may still get,
the JSON-lines serializer) are the repository's ``schemathesis.toml``, which the command line
reads too.
"""

from __future__ import annotations

import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet

from tests.helpers import ROOT

CENTER = "maison-lumiere"
CONFIG = ROOT / "schemathesis.toml"


@pytest.fixture
def fuzzed(app_factory, make_key, store):
    """The app (not started: schemathesis runs its lifespan), a key for it, and a few real
    subscribers to aim at."""
    real = [store.create_subscriber(CENTER, email=f"fuzz{i}@example.org") for i in range(3)]
    return app_factory(resolve=no_dns), make_key(CENTER, "admin"), real


async def no_dns(host: str) -> list[str]:
    """Generated webhook URLs name made-up hosts: none resolves, and no DNS query leaves the test."""
    return []


@pytest.fixture
def api_schema(fuzzed):
    """The document, with the key as the command line's ``-H`` gives it (and the test sends it as
    the command line does): schemathesis then knows the key is not a generated input, and its
    ignored_auth check tries the requests without it (401)."""
    config = SchemathesisConfig.from_path(CONFIG)
    config.projects.override.update(headers={"Authorization": f"Bearer {fuzzed[1]}"})
    return schemathesis.openapi.from_asgi("/schema/openapi.json", fuzzed[0], config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def fingerprint(case) -> int:
    """A number that depends only on the case's inputs. Not ``hash()``: string hashes
    change with each process, and an absent body prints as an object address."""
    body = None if isinstance(case.body, NotSet) else case.body
    return zlib.crc32(repr((body, case.query)).encode())


@schema.parametrize()
# derandomize: the same examples every run, so CI cannot turn red by chance; raise
# max_examples (or drop derandomize) locally to search further, or run the command line
# (schemathesis.toml says how).
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_documented(case, fuzzed) -> None:
    _, key, real = fuzzed
    if "subscriber_id" in (case.path_parameters or {}) and fingerprint(case) % 2:
        case.path_parameters["subscriber_id"] = real[fingerprint(case) // 2 % len(real)]
    # No `checks=`: the set the configuration enables, which is every check (the test below).
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"})


def test_every_check_is_on(api_schema) -> None:
    """The set call_and_validate runs is the configuration's: schemathesis.toml turns none off, so
    the fuzz test is ``--checks all``.

    Three have nothing to judge in one call, and pass: use_after_free and ensure_resource_availability
    read the calls before it, which only the command line's stateful phase chains (in-process, its
    chains would start only from POST /webhooks, whose generated addresses are refused: 422), and
    object_level_authorization replays a read as other identities, of which none is configured (a
    key of another center is a 404 before anything is read: test_api_centers.py)."""
    for operation in api_schema.get_all_operations():
        config = api_schema.config.checks_config_for(operation=operation.ok())
        off = [name for name in CHECKS.get_all_names() if not config.get_by_name(name=name).enabled]
        assert off == [], operation.ok().label


@pytest.mark.parametrize(("path", "methods"), [
    ("/c/maison-lumiere/preferences", "GET, OPTIONS, POST"),
    ("/c/maison-lumiere/unsubscribe", "GET, OPTIONS, POST"),
    ("/api/v1/centers/maison-lumiere/subscribers", "GET, OPTIONS, POST"),
    ("/api/v1/centers/maison-lumiere/subscribers/sub_x", "DELETE, GET, OPTIONS"),
    ("/api/v1/centers/maison-lumiere/subscribers/sub_x/preferences", "OPTIONS, PATCH, PUT"),
])
def test_options_names_every_method_of_the_address(client, make_key, path, methods) -> None:
    """Litestar 2's own OPTIONS answer named only the methods registered before it (web/options.py)."""
    answer = client.options(f"{client.url}{path}", headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
    assert (answer.status_code, answer.headers["allow"]) == (204, methods)


def test_decision_at_is_a_time_not_a_number(client, make_key, store) -> None:
    """Found by the command line's longer run: read as a datetime, a bare number passed for Unix seconds."""
    sid = store.create_subscriber(CENTER, email="when@example.org")
    url = f"{client.url}/api/v1/centers/{CENTER}/subscribers/{sid}/decision"
    headers = {"Authorization": f"Bearer {make_key(CENTER, 'read')}"}
    for at, status in [("2026-11-23T10:00:00Z", 200), ("2026-11-23T11:00:00+01:00", 200), ("-3.8e-180", 400),
                       ("1764000000", 400), ("2026-11-23T10:00:00", 400)]:
        answer = client.get(url, params={"topic": "offers", "channel": "email", "at": at}, headers=headers)
        assert answer.status_code == status, at
