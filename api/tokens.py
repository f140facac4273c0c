"""The tokens file: the embedded default's bearer tokens, each mapped to a member of staff.

```yaml
staff:
  - token: "a long random string"      # or token_sha256: "<hex digest of the token>"
    id: lhj
    name: "Lone Hjort"
    roles: [case_owner]
    schools: [vibeke-skolen]             # "*" for every school
```
The file is read again when it changes, so staff can be added without a restart. Tokens are
compared by their SHA-256 digest; the file should be readable by the API's user only.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api.staff import Staff
from schemas.common import StaffRole

MIN_TOKEN_LENGTH = 16


class TokensFileError(ValueError):
    """The tokens file is missing or invalid; the text says where and why (da / en)."""


class Unauthenticated(Exception):
    """No valid bearer token: the text is for the caller (da / en)."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(default=None, min_length=MIN_TOKEN_LENGTH)
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    id: str
    name: str
    roles: list[StaffRole]
    schools: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_token(self) -> _Entry:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of 'token' or 'token_sha256'")
        return self

    def digest(self) -> str:
        return self.token_sha256 or token_digest(self.token or "")

    def staff(self) -> Staff:
        return Staff(
            id=self.id, name=self.name, roles=frozenset(self.roles), schools=frozenset(self.schools)
        )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_tokens_file(path: Path) -> dict[str, Staff]:
    """Token digest → staff. Raises TokensFileError naming the file and the problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TokensFileError(
            f"Tokenfilen {path} findes ikke. Opret den (se README) eller sæt "
            f"SAGSFLOW_TOKENS_FILE; `sagsflow dev` laver en med demo-medarbejdere.\n"
            f"The tokens file {path} does not exist. Create it (see the README) or set "
            f"SAGSFLOW_TOKENS_FILE; `sagsflow dev` makes one with demo staff."
        ) from exc
    except (OSError, yaml.YAMLError) as exc:
        raise TokensFileError(
            f"Tokenfilen {path} kan ikke læses / cannot read {path}: {exc}"
        ) from exc
    entries = raw.get("staff") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise TokensFileError(
            f"Tokenfilen {path} skal have en liste 'staff' / {path} needs a list 'staff'"
        )
    found: dict[str, Staff] = {}
    for number, entry in enumerate(entries, start=1):
        try:
            parsed = _Entry.model_validate(entry)
            staff = parsed.staff()
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or '-'}: {error['msg']}"
                for error in exc.errors()
            )
            raise TokensFileError(
                f"Tokenfilen {path}, medarbejder nr. {number}: {problems} / "
                f"tokens file {path}, staff entry {number}: {problems}"
            ) from None
        digest = parsed.digest()
        if digest in found:
            raise TokensFileError(
                f"Tokenfilen {path}: samme token to gange (nr. {number}) / "
                f"the same token twice (entry {number})"
            )
        found[digest] = staff
    return found


class TokenFileAuthenticator:
    """Bearer tokens from the tokens file (the embedded default)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._staff: dict[str, Staff] = {}
        self._reload_if_changed()  # fails fast on a missing or invalid file

    async def authenticate(self, token: str) -> Staff:
        self._reload_if_changed()
        staff = self._staff.get(token_digest(token))
        if staff is None:
            raise Unauthenticated("Ukendt token / Unknown token")
        return staff

    def all_staff(self) -> list[Staff]:
        """Everyone the file lists (the staff directory starts with them)."""
        self._reload_if_changed()
        return list(self._staff.values())

    def _reload_if_changed(self) -> None:
        try:
            status = self.path.stat()
        except OSError:
            if self._stamp is not None:
                return  # keep serving the last good file while it is being replaced
            raise TokensFileError(
                f"Tokenfilen {self.path} findes ikke / the tokens file {self.path} does not exist"
            ) from None
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            self._staff = read_tokens_file(self.path)
            self._stamp = stamp


@dataclass(frozen=True)
class DemoStaff:
    token: str
    staff: Staff


DEMO_STAFF: tuple[dict[str, Any], ...] = (
    {
        "id": "lhj",
        "name": "Demo-lærer (kontaktlærer)",
        "roles": ["case_owner"],
        "schools": ["vibeke-skolen"],
    },
    {
        "id": "skoleleder1",
        "name": "Demo-skoleleder",
        "roles": ["leadership"],
        "schools": ["vibeke-skolen"],
    },
    {"id": "tk1", "name": "Demo-medarbejder, TK", "roles": ["tk"], "schools": ["*"]},
    {
        "id": "komm1",
        "name": "Demo-kommunikationsmedarbejder",
        "roles": ["communications"],
        "schools": [],
    },
    {"id": "drift1", "name": "Demo-driftsmedarbejder", "roles": ["operator"], "schools": ["*"]},
    {
        "id": "laerer2",
        "name": "Demo-lærer, anden skole",
        "roles": ["case_owner"],
        "schools": ["anden-skole"],
    },
)


def write_demo_tokens(path: Path) -> list[DemoStaff]:
    """Writes a tokens file with fresh random tokens for the demo staff (mode 0600)."""
    demo = [
        DemoStaff(
            secrets.token_urlsafe(24),
            Staff(
                id=entry["id"],
                name=entry["name"],
                roles=frozenset(StaffRole(role) for role in entry["roles"]),
                schools=frozenset(entry["schools"]),
            ),
        )
        for entry in DEMO_STAFF
    ]
    lines = [
        "# sagsflow API tokens for `sagsflow dev` (demo staff, no real people).",
        "# Bearer tokens: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/me",
        "# Keep this file private. Production uses OIDC (SAGSFLOW_AUTH=oidc).",
    ]
    document = {
        "staff": [
            {"token": item.token, **entry} for item, entry in zip(demo, DEMO_STAFF, strict=True)
        ]
    }
    text = "\n".join(lines) + "\n" + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    return demo


def signin_entries(path: Path) -> list[tuple[str, Staff]]:
    """The staff of a tokens file whose token is written in it (not only its digest), with that
    token: the demo staff `sagsflow dev`'s sign-in page lists. Raises TokensFileError."""
    read_tokens_file(path)  # the same checks, the same errors
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = [_Entry.model_validate(entry) for entry in raw["staff"]]
    return [(entry.token, entry.staff()) for entry in entries if entry.token is not None]
