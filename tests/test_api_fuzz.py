"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis),
against the REAL dev server and worker: no request may cause a 500, and every response (its
status code and body) must match the document. Bounded: a few examples per operation, as an
every demo role; with SAGSFLOW_FUZZ_COVERAGE=1 (`make fuzz`) also every boundary case of
the document."""

from __future__ import annotations

import os
import zlib
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from core.settings import ApiSettings
from tests.apikit import (
    ALL_STAFF,
    TEACHER,
    ApiPlatform,
    new_case_body,
    platform,  # noqa: F401 - the module's platform fixture
)

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 10


@pytest.fixture(scope="module")
def known_case(platform: ApiPlatform) -> str:  # noqa: F811
    """A real case, so that generated requests also reach the case and its workflow."""
    body = new_case_body()
    with httpx.Client(base_url=platform.url, timeout=30, trust_env=False) as http:
        opened = http.post("/api/v1/cases", json=body, headers=TEACHER.headers)
        assert opened.status_code == 201, opened.text
    return body["case_number"]


def the_apps_document() -> dict[str, Any]:
    """The app's own OpenAPI document, made without a server (the fuzz test checks below that
    the running API serves exactly this)."""
    app = create_app(ApiSettings(), authenticator=_NoAuthenticator())
    return app.openapi()


class _NoAuthenticator:
    async def authenticate(self, token: str) -> Any:
        raise AssertionError("only the document is used")


DOCUMENT = the_apps_document()
# Loaded at import: schemathesis' lazy `from_fixture` does not work with pytest 9.
schema = schemathesis.openapi.from_dict(DOCUMENT)
# The coverage phase: schemathesis' deterministic boundary cases (each required field missing,
# each wrong type, lengths at and past their limits, methods the document does not name),
# added to every operation's test besides its random examples. They are made when the tests are
# collected, in every test process, and cost as much CPU as the rest of the suite's fuzzing
# together, so `make test` runs the random examples and `make fuzz` (in .ci/run) runs both.
schema.config.phases.coverage.enabled = os.environ.get("SAGSFLOW_FUZZ_COVERAGE") == "1"


def test_the_running_api_serves_the_fuzzed_document(platform: ApiPlatform) -> None:  # noqa: F811
    with httpx.Client(base_url=platform.url, timeout=30, trust_env=False) as http:
        assert http.get("/api/v1/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_no_server_errors_and_every_response_matches_the_document(
    case: Any,
    platform: ApiPlatform,
    known_case: str,  # noqa: F811
) -> None:
    parameters = case.path_parameters or {}
    # Each example as one of the demo roles, deterministically (the access rules' refusals
    # must match the document too): teacher, leadership, TK, communications, operator, a
    # teacher of another school and a class teacher.
    who = ALL_STAFF[zlib.crc32(repr((case.path, case.query, parameters)).encode()) % len(ALL_STAFF)]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {who.token}"}
    # Half of the generated case numbers are swapped for the real case (deterministically).
    if "case_number" in parameters and zlib.crc32(str(parameters["case_number"]).encode()) % 2:
        parameters["case_number"] = known_case
    case.call_and_validate(
        base_url=platform.url,
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
    )
