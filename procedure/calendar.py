"""Deadline arithmetic. Pure: the non-working days are given, never looked up here.

Working days are Monday-Friday except Danish public holidays. A deadline of N working days
falls at the same local (Copenhagen) time on the N-th working day after the start. Beyond
the years the procedure's calendar covers, only weekends are skipped.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from procedure.models import Deadline, Offset


@cache
def zone(name: str) -> ZoneInfo:
    """Time zones for workflow code: built here, outside the workflow sandbox's proxies."""
    return ZoneInfo(name)


COPENHAGEN = zone("Europe/Copenhagen")


def local_time(
    moment: datetime, tz: ZoneInfo | None = None, *, kl: bool = True, seconds: bool = False
) -> str:
    """A moment as staff read it, in Copenhagen time unless told: '03.03.2026 kl. 09:15'.

    The one format of the case's texts, the note, the mails and the CLI (`kl=False`:
    '03.03.2026 09:15'). Deterministic: workflow code uses it for texts its history records.
    """
    clock = "kl. %H:%M" if kl else "%H:%M"
    return moment.astimezone(tz or COPENHAGEN).strftime(
        f"%d.%m.%Y {clock}" + (":%S" if seconds else "")
    )


# Where a deadline is "the end of the working day" (Deadline.end_of_working_day).
END_OF_WORKING_DAY = time(23, 59)


def is_working_day(day: date, non_working: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in non_working


def add_working_days(day: date, count: int, non_working: Collection[date]) -> date:
    current = day
    remaining = count
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current, non_working):
            remaining -= 1
    return current


def deadline_after(
    start: datetime, deadline: Deadline, non_working: Collection[date], tz: ZoneInfo
) -> datetime:
    if deadline.hours is not None:
        return start + timedelta(hours=deadline.hours)
    if deadline.seconds is not None:
        return start + timedelta(seconds=deadline.seconds)
    if deadline.end_of_working_day:
        local = start.astimezone(tz)
        day = local.date()
        if not is_working_day(day, non_working):
            day = add_working_days(day, 1, non_working)
        return datetime.combine(day, END_OF_WORKING_DAY, tzinfo=tz).astimezone(start.tzinfo)
    assert deadline.working_days is not None
    local = start.astimezone(tz)
    day = add_working_days(local.date(), deadline.working_days, non_working)
    naive = datetime.combine(day, local.time().replace(tzinfo=None))
    return naive.replace(tzinfo=tz).astimezone(start.tzinfo)


def on_a_working_day(moment: datetime, non_working: Collection[date], tz: ZoneInfo) -> datetime:
    """The moment itself on a working day; else the same wall-clock time on the next one."""
    local = moment.astimezone(tz)
    day = local.date()
    if is_working_day(day, non_working):
        return moment
    day = add_working_days(day, 1, non_working)
    naive = datetime.combine(day, local.time().replace(tzinfo=None))
    return naive.replace(tzinfo=tz).astimezone(moment.tzinfo)


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, _calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def offset_after(start: datetime, offset: Offset, tz: ZoneInfo) -> datetime:
    """Calendar offset in local time, so '2 months' lands on the same wall-clock time.

    Seconds (the demo card's timers) are elapsed time, added after the calendar part: a
    five-second timer is five seconds long even across a daylight saving change.
    """
    moment = start
    if offset.months or offset.weeks or offset.days or offset.hours:
        local = start.astimezone(tz)
        if offset.months:
            local = add_months(local, offset.months)
        naive = local.replace(tzinfo=None) + timedelta(
            weeks=offset.weeks, days=offset.days, hours=offset.hours
        )
        moment = naive.replace(tzinfo=tz).astimezone(start.tzinfo)
    return moment + timedelta(seconds=offset.seconds)
