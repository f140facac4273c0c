"""Authentication: bearer tokens from the tokens file (embedded default) or OIDC JWTs.

OIDC: the token's signature is checked against the identity provider's JWKS (RS256 or ES256
only: no `none`, no shared-secret algorithms), and its issuer, audience and expiry must be
right. Staff id, name, roles and schools come from configurable claims.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Annotated, Any, Protocol

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from api.staff import Staff
from api.tokens import TokenFileAuthenticator, Unauthenticated
from core.settings import ApiSettings
from schemas.common import StaffRole
from store import Store

ALGORITHMS = ("RS256", "ES256")
KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}  # the JWK key type each algorithm signs with
CLOCK_LEEWAY_SECONDS = 30


class AuthenticationUnavailable(Exception):
    """The identity provider's keys cannot be fetched: not the caller's fault (503)."""


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Staff: ...


class OidcAuthenticator:
    """JWTs from the municipality's identity provider, checked against its JWKS."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        roles_claim: str = "roles",
        schools_claim: str = "schools",
        staff_id_claim: str = "sub",
        name_claim: str = "name",
        jwks_client: jwt.PyJWKClient | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.roles_claim = roles_claim
        self.schools_claim = schools_claim
        self.staff_id_claim = staff_id_claim
        self.name_claim = name_claim
        self._jwks = jwks_client or jwt.PyJWKClient(
            jwks_url, cache_keys=True, lifespan=300, timeout=10
        )

    async def authenticate(self, token: str) -> Staff:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Ugyldigt token / Invalid token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated(
                "Tokenets algoritme er ikke tilladt / The token's algorithm is not allowed"
            )
        try:
            # PyJWKClient fetches over the network (cached): keep it off the event loop.
            key = await asyncio.to_thread(signing_key, self._jwks, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthenticationUnavailable(
                "Identitetsudbyderens nøgler kan ikke hentes / "
                "The identity provider's keys cannot be fetched"
            ) from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Ukendt signeringsnøgle / Unknown signing key") from exc
        if key.key_type != KEY_TYPES[header["alg"]]:
            # A header naming one algorithm and the kid of a key of another type: the library
            # would fail on the mismatch itself (a TypeError), so it is refused here, plainly.
            raise Unauthenticated(
                "Tokenets nøgle passer ikke til dets algoritme / "
                "The token's key does not match its algorithm"
            )
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[header["alg"]],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("Tokenet er udløbet / The token has expired") from exc
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise Unauthenticated(f"Ugyldigt token / Invalid token ({type(exc).__name__})") from exc
        return self.staff_from_claims(claims)

    def staff_from_claims(self, claims: dict[str, Any]) -> Staff:
        staff_id = _claim(claims, self.staff_id_claim)
        name = _claim(claims, self.name_claim) or staff_id
        known = {role.value for role in StaffRole}
        roles = {
            StaffRole(role) for role in _strings(_claim(claims, self.roles_claim)) if role in known
        }
        try:
            return Staff(
                id=staff_id,
                name=str(name)[:200],
                roles=frozenset(roles),
                schools=frozenset(_strings(_claim(claims, self.schools_claim))),
            )
        except ValidationError as exc:
            raise Unauthenticated(
                "Tokenets oplysninger om medarbejderen er ugyldige / "
                "The token's staff claims are invalid"
            ) from exc


def signing_key(jwks: jwt.PyJWKClient, token: str) -> jwt.PyJWK:
    """The key of the provider's JWKS that signed `token`: the one its `kid` names; without a
    `kid`, the provider's only signing key (OIDC Core 10.1 lets a provider with one key leave
    the `kid` out). Fetches over the network (cached): call it off the event loop."""
    if jwt.get_unverified_header(token).get("kid") is not None:
        return jwks.get_signing_key_from_jwt(token)
    keys = jwks.get_signing_keys()
    if len(keys) != 1:
        raise jwt.PyJWKClientError("the token names no key and the provider has several")
    return keys[0]


def _claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by name; a dotted name reaches into nested objects (realm_access.roles)."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> list[str]:
    """A list claim, or a space/comma separated string claim, as strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, Iterable):
        return [str(part) for part in value if isinstance(part, str | int)]
    return []


def build_authenticator(settings: ApiSettings) -> Authenticator:
    if settings.auth == "oidc":
        assert settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url
        return OidcAuthenticator(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            roles_claim=settings.oidc_roles_claim,
            schools_claim=settings.oidc_schools_claim,
            staff_id_claim=settings.oidc_staff_id_claim,
            name_claim=settings.oidc_name_claim,
        )
    return TokenFileAuthenticator(settings.tokens_file)


class StaffDirectory:
    """The store's directory of staff (roles and schools as their tokens say): the members of
    staff a task may be given to. Written when someone is first seen or their token changed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    async def seen(self, staff: Staff) -> None:
        entry = (frozenset(role.value for role in staff.roles), staff.schools)
        if self._known.get(staff.id) == entry:
            return
        await self.store.remember_staff(staff.id, entry[0], entry[1])
        self._known[staff.id] = entry


bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A bearer token: from the tokens file (embedded default) or an OIDC access "
    "token from the municipality's identity provider.",
)


async def current_staff(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Staff:
    """The FastAPI dependency: the authenticated member of staff, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthenticated(
            "Log ind: send 'Authorization: Bearer <token>' / "
            "Authentication required: send 'Authorization: Bearer <token>'"
        )
    authenticator: Authenticator = request.app.state.authenticator
    staff = await authenticator.authenticate(credentials.credentials)
    directory: StaffDirectory | None = getattr(request.app.state, "staff_directory", None)
    if directory is not None:
        await directory.seen(staff)
    return staff


CurrentStaff = Annotated[Staff, Depends(current_staff)]
