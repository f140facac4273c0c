"""Deadlines in working days skip weekends and Danish public holidays."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from procedure.calendar import add_working_days, deadline_after, offset_after
from procedure.loader import load_procedure
from procedure.models import Deadline, Offset

CPH = ZoneInfo("Europe/Copenhagen")
PROCEDURE = load_procedure(2027)
NON_WORKING = set(PROCEDURE.non_working_days)


def test_easter_2027_is_skipped() -> None:
    # Wed 24 March 2027; Maundy Thursday, Good Friday, the weekend and Easter Monday are off.
    assert add_working_days(date(2027, 3, 24), 1, NON_WORKING) == date(2027, 3, 30)
    assert add_working_days(date(2027, 3, 24), 2, NON_WORKING) == date(2027, 3, 31)


def test_ten_working_days_across_christmas_and_new_year() -> None:
    start = datetime(2026, 12, 18, 10, 0, tzinfo=CPH)
    due = deadline_after(start, Deadline(working_days=10), NON_WORKING, CPH)
    # 21, 22, 23, 24, 28, 29, 30, 31 December, 4 and 5 January: 25-26 Dec and 1 Jan are off.
    assert due == datetime(2027, 1, 5, 10, 0, tzinfo=CPH)


def test_weekend_start_counts_from_monday() -> None:
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=CPH)
    assert deadline_after(saturday, Deadline(working_days=1), NON_WORKING, CPH) == datetime(
        2026, 11, 30, 9, 0, tzinfo=CPH
    )


def test_ascension_day_and_whit_monday_2027() -> None:
    assert add_working_days(date(2027, 5, 5), 1, NON_WORKING) == date(2027, 5, 7)
    assert add_working_days(date(2027, 5, 14), 1, NON_WORKING) == date(2027, 5, 18)


def test_hour_deadlines_are_clock_hours_and_zero_is_immediately() -> None:
    start = datetime(2026, 12, 24, 23, 0, tzinfo=CPH)
    assert deadline_after(start, Deadline(hours=2), NON_WORKING, CPH) == datetime(
        2026, 12, 25, 1, 0, tzinfo=CPH
    )
    assert deadline_after(start, Deadline(hours=0), NON_WORKING, CPH) == start


def test_months_keep_local_wall_clock_across_daylight_saving() -> None:
    start = datetime(2027, 2, 28, 9, 0, tzinfo=CPH)  # winter time
    later = offset_after(start, Offset(months=2), CPH)
    assert later == datetime(2027, 4, 28, 9, 0, tzinfo=CPH)  # summer time, still 09:00 local
    assert offset_after(datetime(2027, 1, 31, 9, 0, tzinfo=CPH), Offset(months=1), CPH).day == 28
