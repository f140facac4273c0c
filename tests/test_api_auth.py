"""Authentication without a server: OIDC JWTs against a JWKS, the tokens file, the rules."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from typer.testing import CliRunner

from api import policy
from api.access import clean_purpose
from api.auth import OidcAuthenticator, build_authenticator
from api.paging import InvalidPageToken, PageTokens
from api.staff import Staff
from api.tokens import TokenFileAuthenticator, TokensFileError, Unauthenticated, token_digest
from core.settings import ApiSettings
from schemas.common import StaffRole

ISSUER = "https://login.kommune.test/realms/skole"
AUDIENCE = "sagsflow"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
    }


@pytest.fixture(scope="module")
def jwks_url(keys: dict[str, Any]) -> Iterator[str]:
    """The identity provider's JWKS endpoint, served locally."""
    document = {
        "keys": [
            {
                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys["rsa"].public_key())),
                "kid": "rsa1",
                "use": "sig",
                "alg": "RS256",
            },
            {
                **json.loads(jwt.algorithms.ECAlgorithm.to_jwk(keys["ec"].public_key())),
                "kid": "ec1",
                "use": "sig",
                "alg": "ES256",
            },
        ]
    }
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/certs"
    finally:
        server.shutdown()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "lhj",
        "name": "Lone Hjort",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["case_owner", "offline_access"]},
        "schools": "vibeke-skolen",
        **overrides,
    }


def authenticator(jwks_url: str) -> OidcAuthenticator:
    return OidcAuthenticator(
        issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url, roles_claim="realm_access.roles"
    )


async def test_a_valid_oidc_token_gives_the_staff_member(keys, jwks_url) -> None:
    for alg, kid, key in (("RS256", "rsa1", keys["rsa"]), ("ES256", "ec1", keys["ec"])):
        token = jwt.encode(claims(), key, algorithm=alg, headers={"kid": kid})
        staff = await authenticator(jwks_url).authenticate(token)
        assert staff == Staff(
            id="lhj",
            name="Lone Hjort",
            roles=frozenset({StaffRole.CASE_OWNER}),
            schools=frozenset({"vibeke-skolen"}),
        )


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"aud": "another-app"}, "InvalidAudienceError"),
        ({"iss": "https://evil.test"}, "InvalidIssuerError"),
        ({"exp": int(time.time()) - 3600}, "udløbet"),
        ({"exp": None}, "MissingRequiredClaimError"),
        ({"sub": "not a valid staff id!"}, "staff claims are invalid"),
    ],
)
async def test_a_wrong_oidc_token_is_refused(keys, jwks_url, changes, why) -> None:
    body = {k: v for k, v in claims(**changes).items() if v is not None}
    token = jwt.encode(body, keys["rsa"], algorithm="RS256", headers={"kid": "rsa1"})
    with pytest.raises(Unauthenticated, match=why):
        await authenticator(jwks_url).authenticate(token)


async def test_only_rs256_and_es256_are_accepted(keys, jwks_url) -> None:
    hmac_token = jwt.encode(
        claims(),
        "a-shared-secret-of-sufficient-length!",
        algorithm="HS256",
        headers={"kid": "rsa1"},
    )
    with pytest.raises(Unauthenticated, match="algoritme"):
        await authenticator(jwks_url).authenticate(hmac_token)
    unsigned = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(Unauthenticated):
        await authenticator(jwks_url).authenticate(unsigned)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims(), other_key, algorithm="RS256", headers={"kid": "rsa1"})
    with pytest.raises(Unauthenticated):
        await authenticator(jwks_url).authenticate(forged)


async def test_a_token_naming_no_key_is_refused_when_the_provider_has_several(
    keys, jwks_url
) -> None:
    """A provider with one key may leave `kid` out (the inbox's OIDC test signs in with such a
    provider); with several, a token that names none is refused, never tried against each."""
    token = jwt.encode(claims(), keys["rsa"], algorithm="RS256")
    with pytest.raises(Unauthenticated, match="signeringsnøgle"):
        await authenticator(jwks_url).authenticate(token)


def test_oidc_needs_issuer_audience_and_jwks() -> None:
    with pytest.raises(ValueError, match="SAGSFLOW_OIDC_ISSUER"):
        ApiSettings.from_env({"SAGSFLOW_AUTH": "oidc"})
    settings = ApiSettings.from_env(
        {
            "SAGSFLOW_AUTH": "OIDC",
            "SAGSFLOW_OIDC_ISSUER": ISSUER,
            "SAGSFLOW_OIDC_AUDIENCE": "a",
            "SAGSFLOW_OIDC_JWKS_URL": "https://login.kommune.test/certs",
            "SAGSFLOW_OIDC_ROLES_CLAIM": "groups",
            "SAGSFLOW_API_PORT": "8080",
        }
    )
    built = build_authenticator(settings)
    assert isinstance(built, OidcAuthenticator) and built.roles_claim == "groups"
    assert settings.port == 8080


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def test_the_tokens_file_maps_tokens_to_staff_and_is_reread(tmp_path: Path) -> None:
    path = write(
        tmp_path / "tokens.yaml",
        f"""
staff:
  - token: "a-long-enough-token-1"
    id: lhj
    name: Lone Hjort
    roles: [case_owner]
    schools: [vibeke-skolen]
  - token_sha256: "{token_digest("hashed-token-000000000")}"
    id: drift1
    name: Drift
    roles: [operator]
    schools: ["*"]
""",
    )
    tokens = TokenFileAuthenticator(path)
    assert (await tokens.authenticate("a-long-enough-token-1")).id == "lhj"
    assert (await tokens.authenticate("hashed-token-000000000")).all_schools
    with pytest.raises(Unauthenticated):
        await tokens.authenticate("a-long-enough-token-2")
    write(path, path.read_text().replace("a-long-enough-token-1", "a-new-token-for-lhj-0"))
    assert (await tokens.authenticate("a-new-token-for-lhj-0")).id == "lhj"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("staff:\n  - {token: short, id: a, name: A, roles: [tk]}\n", "at least 16"),
        ("staff:\n  - {token: a-long-enough-token-1, id: a, name: A, roles: [king]}\n", "roles"),
        (
            "staff:\n  - {token: a-long-enough-token-1, id: a, name: A, roles: [tk],"
            " schools: [Bad School]}\n",
            "schools",
        ),
        ("nobody: []\n", "'staff'"),
    ],
)
def test_a_bad_tokens_file_is_refused_at_start(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(TokensFileError, match=why):
        TokenFileAuthenticator(write(tmp_path / "tokens.yaml", text))


def test_a_missing_tokens_file_stops_sagsflow_api_with_a_clear_message(tmp_path: Path) -> None:
    import typer

    from cli.api import api

    app = typer.Typer()
    app.command()(api)
    result = CliRunner().invoke(app, ["--tokens-file", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert "findes ikke" in result.output and "does not exist" in result.output


def staff(*roles: StaffRole, schools: tuple[str, ...] = ("vibeke-skolen",)) -> Staff:
    return Staff(id="x", name="X", roles=frozenset(roles), schools=frozenset(schools))


def test_the_access_rules() -> None:
    teacher = staff(StaffRole.CASE_OWNER)
    leader = staff(StaffRole.LEADERSHIP)
    comms = staff(StaffRole.COMMUNICATIONS, schools=())
    operator = staff(StaffRole.OPERATOR, schools=())
    assert policy.read_case(teacher, "vibeke-skolen") is None
    assert "anden-skole" in (policy.read_case(teacher, "anden-skole") or "")
    assert policy.read_case(operator, "anden-skole") is None
    assert policy.read_case(comms, "vibeke-skolen") is not None
    assert policy.read_press(comms, "anden-skole", has_press_task=True) is None
    assert policy.read_press(comms, "anden-skole", has_press_task=False) is not None
    assert (
        policy.complete_task(comms, "anden-skole", "treat.press", StaffRole.COMMUNICATIONS) is None
    )
    assert policy.complete_task(comms, "vibeke-skolen", "treat.help", StaffRole.CASE_OWNER)
    assert policy.complete_task(teacher, "vibeke-skolen", "stop.action_plan", StaffRole.LEADERSHIP)
    assert (
        policy.complete_task(leader, "vibeke-skolen", "stop.action_plan", StaffRole.LEADERSHIP)
        is None
    )
    assert policy.participants(staff(StaffRole.TK, schools=("*",)), "vibeke-skolen")
    assert policy.participants(leader, "vibeke-skolen") is None
    assert policy.export_access_log(teacher, "vibeke-skolen")
    assert policy.list_cases(comms, None)
    assert policy.list_cases(teacher, "anden-skole")


def test_purposes_and_page_tokens() -> None:
    assert clean_purpose(None, "sagsbehandling") == "sagsbehandling"
    assert clean_purpose("  \t ", "sagsbehandling") == "sagsbehandling"
    assert clean_purpose("for%C3%A6ldre%20m%C3%B8de", "-") == "forældre møde"
    assert clean_purpose("forældre".encode().decode("latin-1"), "-") == "forældre"
    assert len(clean_purpose("x" * 500, "-")) == 200
    tokens = PageTokens(b"secret")
    sealed = tokens.seal(b"temporal-token", "vibeke-skolen|None")
    assert tokens.open(sealed, "vibeke-skolen|None") == b"temporal-token"
    for wrong in (sealed, sealed[:-2] + "AA", "!!", ""):
        scope = "anden-skole|None" if wrong == sealed else "vibeke-skolen|None"
        with pytest.raises(InvalidPageToken):
            tokens.open(wrong, scope)
    assert PageTokens(b"other").seal(b"t", "s") != tokens.seal(b"t", "s")


# ------------------------------------------------------------------ OIDC through the API itself


@pytest.mark.slow
async def test_the_api_takes_an_oidc_token_end_to_end(keys, jwks_url, tmp_path: Path) -> None:
    """A request with the identity provider's JWT: the inbox of that member of staff, the
    access log under their id; an expired token and a stranger's school get nothing."""
    import httpx
    from sqlalchemy import select

    from api.app import create_app
    from store import AccessLogRow, Store
    from tests import storekit as kit

    store = Store.from_url(f"sqlite+aiosqlite:///{tmp_path / 'oidc.db'}")
    await store.create_schema()
    try:
        await store.open_task(kit.open_task("2026-0042"))
        settings = ApiSettings(
            auth="oidc",
            oidc_issuer=ISSUER,
            oidc_audience=AUDIENCE,
            oidc_jwks_url=jwks_url,
            oidc_roles_claim="realm_access.roles",
        )
        app = create_app(settings, store=store)
        transport = httpx.ASGITransport(app=app)

        def bearer(**changes: Any) -> dict[str, str]:
            token = jwt.encode(
                claims(**changes), keys["rsa"], algorithm="RS256", headers={"kid": "rsa1"}
            )
            return {"Authorization": f"Bearer {token}"}

        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            mine = await http.get("/api/v1/inbox", headers=bearer())
            assert mine.status_code == 200, mine.text
            assert [t["case_number"] for t in mine.json()["tasks"]] == ["2026-0042"]

            expired = await http.get("/api/v1/inbox", headers=bearer(exp=int(time.time()) - 60))
            assert expired.status_code == 401
            assert "udløbet" in expired.json()["detail"]

            elsewhere = await http.get(
                "/api/v1/inbox", headers=bearer(sub="kh", schools="en-anden-skole")
            )
            assert elsewhere.status_code == 200 and elsewhere.json()["tasks"] == []

        async with store.engine.connect() as connection:
            rows = (await connection.execute(select(AccessLogRow).order_by(AccessLogRow.id))).all()
        assert [(r.actor_id, r.action, r.outcome) for r in rows] == [
            ("lhj", "read_inbox", "allowed"),
            ("kh", "read_inbox", "allowed"),
        ]
    finally:
        await store.dispose()


@pytest.mark.parametrize(
    ("alg", "kid", "signer"), [("RS256", "ec1", "rsa"), ("ES256", "rsa1", "ec")]
)
async def test_a_token_naming_a_key_of_another_type_is_refused_not_an_error(
    keys, jwks_url, alg: str, kid: str, signer: str
) -> None:
    """Issue 15, finding 1: an RS256 header with the EC key's kid (or the reverse) raised a
    TypeError inside the library — a 500 on /me and /codec — instead of a 401."""
    token = jwt.encode(claims(), keys[signer], algorithm=alg, headers={"kid": kid})
    with pytest.raises(Unauthenticated, match="passer ikke"):
        await authenticator(jwks_url).authenticate(token)
