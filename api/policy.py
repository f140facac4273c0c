"""Who may read and do what. Pure: each rule returns None (allowed) or why not (da / en).

- Operators see and act on every case.
- School staff (case owner, leadership, TK) read and act on the cases of their own schools;
  a task only in their own role.
- The communications department handles press: press tasks of every school, and the minimal
  case data behind them (never participants' names).
- Names and contact details: the case owner and leadership of the case's school, operators.
"""

from __future__ import annotations

from api.staff import Staff
from schemas.common import StaffRole

PRESS_TASK = "treat.press"
NAME_ROLES = frozenset({StaffRole.CASE_OWNER, StaffRole.LEADERSHIP})
OPEN_ROLES = frozenset({StaffRole.CASE_OWNER, StaffRole.LEADERSHIP, StaffRole.TK})
WITHDRAW_ROLES = frozenset({StaffRole.CASE_OWNER, StaffRole.LEADERSHIP})
REASSIGN_ROLES = frozenset({StaffRole.CASE_OWNER, StaffRole.LEADERSHIP})
EXPORT_ROLES = frozenset({StaffRole.LEADERSHIP})

Denial = str | None


def _not_at_school(school_id: str) -> str:
    return (
        f"Du har ikke adgang til sager på skolen {school_id} / "
        f"You have no access to cases of school {school_id}"
    )


def _needs_roles(roles: frozenset[StaffRole], what_da: str, what_en: str) -> str:
    listed = ", ".join(sorted(role.value for role in roles))
    return f"Kun rollerne {listed} kan {what_da} / Only the roles {listed} can {what_en}"


def act_at_school(
    staff: Staff, school_id: str, roles: frozenset[StaffRole], what_da: str, what_en: str
) -> Denial:
    """One of `roles` at the case's school (operators always)."""
    if staff.is_operator:
        return None
    if not staff.roles & roles:
        return _needs_roles(roles, what_da, what_en)
    if not staff.works_at(school_id):
        return _not_at_school(school_id)
    return None


def read_case(staff: Staff, school_id: str) -> Denial:
    return act_at_school(staff, school_id, OPEN_ROLES, "læse sagen", "read the case")


def act_on_case(staff: Staff, school_id: str) -> Denial:
    """Notes and new incidents: school staff of the case's school."""
    return act_at_school(staff, school_id, OPEN_ROLES, "handle på sagen", "act on the case")


def open_case(staff: Staff, school_id: str) -> Denial:
    return act_at_school(staff, school_id, OPEN_ROLES, "oprette sager", "open cases")


def withdraw(staff: Staff, school_id: str) -> Denial:
    return act_at_school(
        staff, school_id, WITHDRAW_ROLES, "trække sagen tilbage", "withdraw the case"
    )


def reassign(staff: Staff, school_id: str) -> Denial:
    return act_at_school(
        staff, school_id, REASSIGN_ROLES, "give opgaven til en anden", "reassign the task"
    )


def participants(staff: Staff, school_id: str) -> Denial:
    return act_at_school(staff, school_id, NAME_ROLES, "se og rette navne", "see and change names")


def export_access_log(staff: Staff, school_id: str) -> Denial:
    return act_at_school(
        staff, school_id, EXPORT_ROLES, "udlevere adgangsloggen", "export the access log"
    )


def read_press(staff: Staff, school_id: str, has_press_task: bool) -> Denial:
    if read_case(staff, school_id) is None:
        return None
    if StaffRole.COMMUNICATIONS in staff.roles:
        if has_press_task:
            return None
        return "Sagen har ingen presseopgave / The case has no press task"
    return _not_at_school(school_id)


def complete_task(staff: Staff, school_id: str, task_key: str, task_role: StaffRole) -> Denial:
    if staff.is_operator:
        return None
    if task_key == PRESS_TASK and StaffRole.COMMUNICATIONS in staff.roles:
        return None  # the communications department handles press for every school
    if not staff.works_at(school_id) or not staff.school_roles():
        return _not_at_school(school_id)
    if task_role not in staff.roles:
        return (
            f"Opgaven '{task_key}' udføres af rollen '{task_role.value}', som du ikke har / "
            f"Task '{task_key}' is for role '{task_role.value}', which you do not have"
        )
    return None


def list_cases(staff: Staff, school_id: str | None) -> Denial:
    if staff.is_operator:
        return None
    if not staff.school_roles():
        return (
            "Din rolle giver ikke adgang til sagslisten; presseopgaver findes i indbakken / "
            "Your role gives no access to the case list; press tasks are in your inbox"
        )
    if school_id is not None and not staff.works_at(school_id):
        return _not_at_school(school_id)
    return None
