"""`Staff`: who calls the API, as their token says — id, name, roles and schools."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from schemas.common import SchoolId, StaffId, StaffRole

ALL_SCHOOLS = "*"
# Roles that work at schools: their case access follows their schools.
SCHOOL_ROLES = frozenset({StaffRole.CASE_OWNER, StaffRole.LEADERSHIP, StaffRole.TK})
# Order in which a role is chosen to act in when a request does not say which.
ROLE_PREFERENCE = (
    StaffRole.CASE_OWNER,
    StaffRole.LEADERSHIP,
    StaffRole.TK,
    StaffRole.COMMUNICATIONS,
    StaffRole.OPERATOR,
)

StaffName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Staff(BaseModel):
    """A member of staff, as authenticated by a bearer token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: StaffId = Field(description="Staff id (initials or user id); recorded in the log.")
    name: StaffName = Field(description="The staff member's name, for display.")
    roles: frozenset[StaffRole] = Field(description="The roles the staff member may act in.")
    schools: frozenset[str] = Field(
        default=frozenset(),
        description="School ids the staff member works at; '*' means every school.",
    )

    @field_validator("schools")
    @classmethod
    def _school_ids(cls, schools: frozenset[str]) -> frozenset[str]:
        from pydantic import TypeAdapter

        adapter = TypeAdapter(SchoolId)
        for school in schools:
            if school != ALL_SCHOOLS:
                adapter.validate_python(school)
        return schools

    @property
    def is_operator(self) -> bool:
        return StaffRole.OPERATOR in self.roles

    @property
    def all_schools(self) -> bool:
        return self.is_operator or ALL_SCHOOLS in self.schools

    def works_at(self, school_id: str) -> bool:
        return self.all_schools or school_id in self.schools

    def school_roles(self) -> frozenset[StaffRole]:
        return self.roles & SCHOOL_ROLES

    def preferred_role(self, *candidates: StaffRole) -> StaffRole | None:
        """The first of `candidates` (default: every role, in ROLE_PREFERENCE) they hold."""
        for role in candidates or ROLE_PREFERENCE:
            if role in self.roles:
                return role
        return None
