"""Business-day arithmetic for review deadlines ("the PMR ... in the next 5 business days").

Business days are Monday to Friday, less the holidays a caller passes in. Pure: no
calendar lookups, no time zones; callers convert to the date they mean first.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

_SATURDAY = 5
_ONE_DAY = timedelta(days=1)


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < _SATURDAY and day not in holidays


def add_business_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The date `days` business days after `start` (before it when `days` is negative).

    `start` itself never counts, business day or not: Friday + 1 is Monday, and Saturday
    + 1 is Monday too. A holiday is skipped like a weekend, so a due date that would fall
    on one moves to the next business day. `days == 0` returns `start` unchanged.
    """
    off = frozenset(holidays)
    step = _ONE_DAY if days >= 0 else -_ONE_DAY
    day, left = start, abs(days)
    while left:
        day += step
        if is_business_day(day, off):
            left -= 1
    return day


def business_days_between(a: date, b: date, holidays: Collection[date] = ()) -> int:
    """How many business days lie after `a` up to and including `b` (negative if b < a).

    The inverse of `add_business_days`: for any business day `b` reached from `a`,
    `business_days_between(a, add_business_days(a, n)) == n`.
    """
    if b < a:
        return -business_days_between(b, a, holidays)
    skipped = sum(1 for h in set(holidays) if a < h <= b and h.weekday() < _SATURDAY)
    return _weekdays_through(b) - _weekdays_through(a) - skipped


def _weekdays_through(day: date) -> int:
    """Weekdays from 0001-01-01 (a Monday) up to and including `day`."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)
