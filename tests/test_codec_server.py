"""The codec server (/codec) in the API process, against the REAL dev server, a worker whose
client encrypts, and the stock `temporal` CLI: an operator reads a case's history decoded;
everyone else gets ciphertext and a refusal, and the access log has both."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from api.staff import Staff
from api.tokens import Unauthenticated
from core.codec import ENCODING, PayloadKeys, data_converter
from core.settings import ApiSettings
from schemas.common import StaffRole
from store.models import AccessLogRow
from tests.apikit import OPERATOR, TEACHER, ApiPlatform, ApiUser, new_case_body
from tests.casekit import decision
from tests.conftest import binary

TEMPORAL = binary("temporal")
NOTE = "Kodeord Solsikke: mor til P1 ringede om Snapchat-gruppen"
UI_ORIGIN = "http://127.0.0.1:8233"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiPlatform]:
    started = ApiPlatform(
        tmp_path_factory.mktemp("codec"), payload_keys=PayloadKeys.generate("k1")
    ).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def case_number(platform: ApiPlatform) -> str:
    """A case (names in the store) with a note, through the API: the note is in its history."""
    body = new_case_body()
    with httpx.Client(base_url=platform.url, timeout=30, trust_env=False) as http:
        opened = http.post("/api/v1/cases", json=body, headers=TEACHER.headers)
        assert opened.status_code == 201, opened.text
        noted = http.post(
            f"/api/v1/cases/{body['case_number']}/timeline/notes",
            json={"text": NOTE},
            headers=TEACHER.headers,
        )
        assert noted.status_code == 202, noted.text
    return str(body["case_number"])


@pytest.fixture
async def http(platform: ApiPlatform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=30, trust_env=False) as client:
        yield client


def codec_headers(user: ApiUser | None, namespace: str | None = "default") -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if namespace is not None:
        headers["X-Namespace"] = namespace
    return headers | (user.headers if user else {})


def show(
    platform: ApiPlatform, case_number: str, *options: str
) -> subprocess.CompletedProcess[str]:
    """`temporal workflow show`, as an operator types it."""
    return subprocess.run(
        [
            TEMPORAL,
            "workflow",
            "show",
            "--workflow-id",
            f"case-{case_number}",
            "--address",
            platform.address,
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def payload_texts(document: Any) -> str:
    """Every payload's data and metadata in a proto3 JSON document, base64-decoded."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str) and isinstance(node.get("metadata"), dict):
                found.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
                found.extend(
                    base64.b64decode(value).decode("utf-8", "replace")
                    for value in node["metadata"].values()
                )
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return "\n".join(found)


async def sealed_note(platform: ApiPlatform, case_number: str) -> dict[str, Any]:
    """The raw (encrypted) payloads of the case's add_note signal, as proto3 JSON."""
    client = await Client.connect(platform.address, data_converter=pydantic_data_converter)
    history = await client.get_workflow_handle(f"case-{case_number}").fetch_history()
    for event in history.events:
        if event.HasField("workflow_execution_signaled_event_attributes"):
            signaled = event.workflow_execution_signaled_event_attributes
            if signaled.signal_name == "add_note":
                return json_format.MessageToDict(signaled.input)
    raise AssertionError("no add_note signal in the history")


@pytest.mark.slow
async def test_the_temporal_cli_reads_decoded_payloads_with_an_operators_token(
    platform: ApiPlatform, case_number: str
) -> None:
    codec = ("--codec-endpoint", f"{platform.url}/codec")
    raw = await asyncio.to_thread(show, platform, case_number, "--output", "json")
    assert raw.returncode == 0, raw.stderr
    texts = payload_texts(json.loads(raw.stdout))
    assert ENCODING.decode() in texts
    assert "Solsikke" not in raw.stdout + texts and f"Sag {case_number}" not in texts

    for _ in range(50):
        # The signal is written to the history once the case's first workflow task (which
        # loads the card) has completed.
        decoded = await asyncio.to_thread(
            show,
            platform,
            case_number,
            "--detailed",
            *codec,
            "--codec-auth",
            f"Bearer {OPERATOR.token}",
        )
        assert decoded.returncode == 0, decoded.stderr
        if NOTE in decoded.stdout:
            break
        await asyncio.sleep(0.2)
    assert NOTE in decoded.stdout  # the add_note signal's text
    assert f"userMetadata.summary: Sag {case_number} · vibeke-skolen" in decoded.stdout
    assert "input[0].participants[0].pseudonym: P1" in decoded.stdout
    assert "Astrid" not in decoded.stdout  # names never went to Temporal at all

    for refused in ((), ("--codec-auth", f"Bearer {TEACHER.token}")):
        # A refusing codec server fails the command (the CLI retries until its timeout).
        result = await asyncio.to_thread(
            show,
            platform,
            case_number,
            "--detailed",
            *codec,
            *refused,
            "--command-timeout",
            "2s",
        )
        assert result.returncode != 0
        assert "Solsikke" not in result.stdout + result.stderr


@pytest.mark.slow
async def test_an_operators_signal_through_the_cli_is_encrypted_and_queries_decode(
    platform: ApiPlatform, case_number: str
) -> None:
    """With the codec, `temporal workflow signal` seals its input (/codec/encode) and
    `temporal workflow query` opens the answer: the operator guide's repairs stay encrypted."""
    codec = (
        "--codec-endpoint",
        f"{platform.url}/codec",
        "--codec-auth",
        f"Bearer {OPERATOR.token}",
        "--address",
        platform.address,
    )
    note = {"author": {"id": "drift1", "role": "operator"}, "text": "Rettelse Mælkebøtte"}
    signalled = await asyncio.to_thread(
        subprocess.run,
        [
            TEMPORAL,
            "workflow",
            "signal",
            "--workflow-id",
            f"case-{case_number}",
            "--name",
            "add_note",
            "--input",
            json.dumps(note, ensure_ascii=False),
            *codec,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert signalled.returncode == 0, signalled.stderr

    client = await Client.connect(platform.address, data_converter=pydantic_data_converter)
    history = await client.get_workflow_handle(f"case-{case_number}").fetch_history()
    inputs = [
        e.workflow_execution_signaled_event_attributes.input
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert len(inputs) == 2
    assert all(i.payloads[0].metadata["encoding"] == ENCODING for i in inputs)
    assert not any("Mælkebøtte".encode() in e.SerializeToString() for e in history.events)

    for _ in range(50):  # the worker records the note in the timeline
        queried = await asyncio.to_thread(
            subprocess.run,
            [
                TEMPORAL,
                "workflow",
                "query",
                "--workflow-id",
                f"case-{case_number}",
                "--name",
                "snapshot",
                *codec,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert queried.returncode == 0, queried.stderr
        if "Mælkebøtte" in queried.stdout:
            break
        await asyncio.sleep(0.2)
    assert "Mælkebøtte" in queried.stdout and NOTE in queried.stdout


@pytest.mark.slow
async def test_the_codec_endpoint_refuses_everyone_but_operators(
    platform: ApiPlatform, case_number: str, http: httpx.AsyncClient
) -> None:
    body = await sealed_note(platform, case_number)
    assert len(body["payloads"]) == 1

    anonymous = await http.post("/codec/decode", json=body, headers=codec_headers(None))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"].startswith("text/plain")  # the UI keeps ciphertext

    bad_scheme = await http.post(
        "/codec/decode",
        json=body,
        headers=codec_headers(None) | {"Authorization": f"Basic {OPERATOR.token}"},
    )
    assert bad_scheme.status_code == 401

    teacher = await http.post("/codec/decode", json=body, headers=codec_headers(TEACHER))
    assert teacher.status_code == 403
    assert "Solsikke" not in teacher.text

    wrong_namespace = await http.post(
        "/codec/decode", json=body, headers=codec_headers(OPERATOR, "other")
    )
    assert wrong_namespace.status_code == 403 and "default" in wrong_namespace.text
    no_namespace = await http.post(
        "/codec/decode", json=body, headers=codec_headers(OPERATOR, None)
    )
    assert no_namespace.status_code == 400

    garbage = await http.post(
        "/codec/decode", content=b"{not json", headers=codec_headers(OPERATOR)
    )
    assert garbage.status_code == 400

    allowed = await http.post("/codec/decode", json=body, headers=codec_headers(OPERATOR))
    assert allowed.status_code == 200, allowed.text
    [payload] = allowed.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert json.loads(base64.b64decode(payload["data"]))["text"] == NOTE

    # Encode, then decode again: the UI's "send a signal" path.
    plain = {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(b'"hej"').decode(),
            }
        ]
    }
    sealed = await http.post("/codec/encode", json=plain, headers=codec_headers(OPERATOR))
    assert sealed.status_code == 200
    [sealed_payload] = sealed.json()["payloads"]
    assert base64.b64decode(sealed_payload["metadata"]["encoding"]) == ENCODING
    assert base64.b64decode(sealed_payload["metadata"]["encryption-key-id"]) == b"k1"
    opened = await http.post("/codec/decode", json=sealed.json(), headers=codec_headers(OPERATOR))
    assert opened.json() == plain
    teacher_encode = await http.post("/codec/encode", json=plain, headers=codec_headers(TEACHER))
    assert teacher_encode.status_code == 403

    # A payload sealed with a key the server does not have is refused, not passed on.
    foreign = Payloads(
        payloads=[
            Payload(metadata={"encoding": ENCODING, "encryption-key-id": b"k0"}, data=b"x" * 40)
        ]
    )
    unknown_key = await http.post(
        "/codec/decode", content=json_format.MessageToJson(foreign), headers=codec_headers(OPERATOR)
    )
    assert unknown_key.status_code == 422 and "'k0'" in unknown_key.text

    entries = await codec_log(platform)
    assert ("drift1", "codec_decode", "allowed", "1") in entries
    assert ("lhj", "codec_decode", "denied", None) in entries
    assert ("lhj", "codec_encode", "denied", None) in entries
    assert ("drift1", "codec_encode", "allowed", "1") in entries
    assert ("drift1", "codec_decode", "failed", "1; PayloadKeyError") in entries


async def codec_log(platform: ApiPlatform) -> list[tuple[str, str, str, str | None]]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{platform.data_dir / 'sagsflow.db'}")
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(AccessLogRow).where(AccessLogRow.action.like("codec_%"))
                )
            ).all()
    finally:
        await engine.dispose()
    assert all(row.case_number is None for row in rows)
    return [(row.actor_id, row.action, row.outcome, row.detail) for row in rows]


@pytest.mark.slow
async def test_cors_for_the_web_ui_on_codec_only(http: httpx.AsyncClient) -> None:
    preflight = await http.options(
        "/codec/decode",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    allowed = {
        h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "x-namespace"} <= allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]

    stranger = await http.options(
        "/codec/decode",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers

    # A refusal still carries the CORS headers, so the UI can tell it from a network error.
    refused = await http.post(
        "/codec/decode",
        json={"payloads": []},
        headers={"Origin": UI_ORIGIN, "X-Namespace": "default"},
    )
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == UI_ORIGIN

    api = await http.options(
        "/api/v1/health", headers={"Origin": UI_ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in api.headers
    health = await http.get("/api/v1/health", headers={"Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in health.headers

    document = (await http.get("/api/v1/openapi.json")).json()
    assert not any(path.startswith("/codec") for path in document["paths"])


@pytest.mark.slow
async def test_a_browser_signs_in_once_and_the_web_ui_decodes_with_the_cookie(
    platform: ApiPlatform, case_number: str, http: httpx.AsyncClient
) -> None:
    body = await sealed_note(platform, case_number)
    form = await http.get("/codec/session")
    assert form.status_code == 200 and 'name="token"' in form.text

    teacher = await http.post(
        "/codec/session",
        content=f"token={TEACHER.token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert teacher.status_code == 403 and "set-cookie" not in teacher.headers

    signed_in = await http.post(
        "/codec/session",
        content=f"token={OPERATOR.token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/codec" in cookie
    assert "drift1" in signed_in.text

    # What the Web UI sends with "include cross-origin credentials": the cookie, no token.
    # Issue 15, finding 6: the cookie is a random session id, never the operator's token.
    session = http.cookies.get("sagsflow_codec")
    assert session and session != OPERATOR.token and OPERATOR.token not in cookie
    decoded = await http.post(
        "/codec/decode", json=body, headers={"Origin": UI_ORIGIN, "X-Namespace": "default"}
    )
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == UI_ORIGIN
    assert NOTE in base64.b64decode(decoded.json()["payloads"][0]["data"]).decode()

    await http.post("/codec/session/end")
    assert "sagsflow_codec" not in http.cookies
    after = await http.post("/codec/decode", json=body, headers=codec_headers(None))
    assert after.status_code == 401
    # Signed out is ended on the server: the old cookie, replayed, opens nothing; nor does a
    # cookie holding a token.
    for replayed in (session, OPERATOR.token):
        again = await http.post(
            "/codec/decode",
            json=body,
            headers=codec_headers(None) | {"Cookie": f"sagsflow_codec={replayed}"},
        )
        assert again.status_code == 401, replayed


async def test_without_payload_keys_the_codec_says_so() -> None:
    class Operator:
        async def authenticate(self, token: str) -> Staff:
            return Staff(id="drift1", name="Drift", roles=frozenset({StaffRole.OPERATOR}))

    class Unencrypted:  # a CaseService whose client has no payload codec
        class client:
            namespace = "default"
            data_converter = pydantic_data_converter

    app = create_app(ApiSettings(), service=Unencrypted(), authenticator=Operator())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.post(
            "/codec/decode", json={"payloads": []}, headers=codec_headers(OPERATOR)
        )
    assert response.status_code == 503
    assert "SAGSFLOW_PAYLOAD_KEYS_FILE" in response.text


def test_cors_origins_come_from_the_environment() -> None:
    assert ApiSettings().codec_cors_origins == ("http://127.0.0.1:8233", "http://localhost:8233")
    configured = ApiSettings.from_env(
        {"SAGSFLOW_CODEC_CORS_ORIGINS": "https://temporal-ui.kommune.dk, http://127.0.0.1:9000"}
    )
    assert configured.codec_cors_origins == (
        "https://temporal-ui.kommune.dk",
        "http://127.0.0.1:9000",
    )
    for bad in ("*", "temporal-ui.kommune.dk", "https://ui.example/"):
        with pytest.raises(ValueError, match="SAGSFLOW_CODEC_CORS_ORIGINS"):
            ApiSettings.from_env({"SAGSFLOW_CODEC_CORS_ORIGINS": bad})


@pytest.mark.slow
async def test_malformed_sealed_payloads_are_a_422_never_a_500(http: httpx.AsyncClient) -> None:
    """Issue 15, finding 1: a key id that is not UTF-8, and data empty or shorter than a nonce
    and a tag under binary/encrypted, are the caller's mistake (422), not a server error."""

    def sealed(key_id: bytes, data: bytes) -> dict[str, Any]:
        metadata = {"encoding": ENCODING, "encryption-key-id": key_id}
        return json_format.MessageToDict(Payloads(payloads=[Payload(metadata=metadata, data=data)]))

    for body in (
        sealed(b"\xff\xfe", b"x" * 40),
        sealed(b"k1", b""),
        sealed(b"k1", b"short"),
        sealed(b"k1", b"\x00" * 27),
    ):
        answer = await http.post("/codec/decode", json=body, headers=codec_headers(OPERATOR))
        assert answer.status_code == 422, (answer.status_code, answer.text)
        assert "\ufffd" not in answer.text


@pytest.mark.slow
async def test_a_plaintext_message_past_the_api_is_refused_and_recorded(
    platform: ApiPlatform, http: httpx.AsyncClient
) -> None:
    """Issue 15, finding 5: with the stock CLI and no codec, a plaintext `complete_task` signal
    (or `submit_task` update) naming whoever the sender likes completed a task with no entry in
    the access log. A case that runs encrypted refuses it: the signal's refusal is in the
    timeline, the update is refused, and the task stays open."""
    body = new_case_body()
    opened = await http.post("/api/v1/cases", json=body, headers=TEACHER.headers)
    assert opened.status_code == 201, opened.text
    case_number = body["case_number"]
    for _ in range(100):
        inbox = (await http.get("/api/v1/inbox", headers=TEACHER.headers)).json()
        if any(
            t["case_number"] == case_number and t["key"] == "assess.uncover" for t in inbox["tasks"]
        ):
            break
        await asyncio.sleep(0.1)
    forged = json.dumps(
        {
            "task_key": "assess.uncover",
            "actor": {"id": "skoleleder1", "role": "operator"},
            "decision": decision("assess.uncover", datetime.now(UTC)),
        }
    )
    plain = ("--workflow-id", f"case-{case_number}", "--address", platform.address)
    signalled = await asyncio.to_thread(
        subprocess.run,
        [TEMPORAL, "workflow", "signal", "--name", "complete_task", "--input", forged, *plain],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert signalled.returncode == 0, signalled.stderr
    updated = await asyncio.to_thread(
        subprocess.run,
        [
            TEMPORAL,
            "workflow",
            "update",
            "execute",
            "--name",
            "submit_task",
            "--input",
            forged,
            *plain,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert updated.returncode != 0 and "ikke krypteret" in updated.stderr + updated.stdout
    for _ in range(100):
        snapshot = (await http.get(f"/api/v1/cases/{case_number}", headers=TEACHER.headers)).json()
        rejected = [e for e in snapshot["timeline"] if e["kind"] == "rejected"]
        if rejected:
            break
        await asyncio.sleep(0.1)
    assert rejected and "ikke krypteret" in rejected[0]["reason"], snapshot["timeline"]
    assert "assess.uncover" in {t["key"] for t in snapshot["open_tasks"]}


async def test_a_codec_session_ends_when_its_token_is_revoked() -> None:
    """Issue 15 (review): the session keeps the operator's token server-side and checks it on
    every request, so a token revoked (or expired) after sign-in opens nothing."""
    valid = {"operator-token"}

    class Revocable:
        async def authenticate(self, token: str) -> Staff:
            if token not in valid:
                raise Unauthenticated("Ukendt token / Unknown token")
            return Staff(id="drift1", name="Drift", roles=frozenset({StaffRole.OPERATOR}))

    class Encrypting:  # a CaseService whose client seals payloads
        class client:
            namespace = "default"
            data_converter = data_converter(PayloadKeys.generate("k1"))

    app = create_app(ApiSettings(), service=Encrypting(), authenticator=Revocable())  # type: ignore[arg-type]
    app.state.access_log = _NoLog()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        signed_in = await client.post(
            "/codec/session",
            content="token=operator-token",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert signed_in.status_code == 200, signed_in.text
        headers = {"Content-Type": "application/json", "X-Namespace": "default"}
        before = await client.post("/codec/decode", json={"payloads": []}, headers=headers)
        assert before.status_code == 200, before.text
        valid.clear()
        after = await client.post("/codec/decode", json={"payloads": []}, headers=headers)
        assert after.status_code == 401


class _NoLog:
    async def record(self, *args: object, **kwargs: object) -> None:
        return None
