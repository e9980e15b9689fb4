"""Business days for review deadlines: weekends and holidays skipped, both directions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from firstresponder.domain.business_days import add_business_days, business_days_between

MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 11, 23) + timedelta(days=n) for n in range(7))
NEXT_MON = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("start", "days", "holidays", "expected"),
    [
        pytest.param(MON, 1, (), TUE, id="monday+1"),
        pytest.param(FRI, 1, (), NEXT_MON, id="friday+1-is-monday"),
        pytest.param(THU, 2, (), NEXT_MON, id="across-a-weekend"),
        pytest.param(MON, 5, (), NEXT_MON, id="five-days-is-a-week"),
        pytest.param(MON, 10, (), date(2026, 12, 7), id="two-weeks"),
        pytest.param(SAT, 1, (), NEXT_MON, id="start-saturday"),
        pytest.param(SUN, 1, (), NEXT_MON, id="start-sunday"),
        pytest.param(SAT, 5, (), date(2026, 12, 4), id="saturday+5-is-friday"),
        pytest.param(MON, 0, (), MON, id="zero-days"),
        pytest.param(SAT, 0, (), SAT, id="zero-days-on-a-weekend"),
        pytest.param(MON, 5, (NEXT_MON,), date(2026, 12, 1), id="holiday-on-the-due-date"),
        pytest.param(WED, 1, (THU,), FRI, id="holiday-mid-week"),
        pytest.param(WED, 2, (THU, FRI), date(2026, 12, 1), id="two-holidays-and-a-weekend"),
        pytest.param(MON, 1, (SAT,), TUE, id="holiday-on-a-weekend-changes-nothing"),
        pytest.param(NEXT_MON, -1, (), FRI, id="monday-1-is-friday"),
        pytest.param(NEXT_MON, -5, (WED,), date(2026, 11, 20), id="backwards-with-holiday"),
    ],
)
def test_add_business_days(
    start: date, days: int, holidays: tuple[date, ...], expected: date
) -> None:
    assert add_business_days(start, days, holidays) == expected


@pytest.mark.parametrize(
    ("a", "b", "holidays", "expected"),
    [
        pytest.param(MON, MON, (), 0, id="same-day"),
        pytest.param(MON, TUE, (), 1, id="next-day"),
        pytest.param(FRI, NEXT_MON, (), 1, id="over-a-weekend"),
        pytest.param(FRI, SUN, (), 0, id="only-weekend"),
        pytest.param(SAT, NEXT_MON, (), 1, id="from-a-weekend"),
        pytest.param(MON, NEXT_MON, (), 5, id="a-week"),
        pytest.param(MON, NEXT_MON, (WED, SAT), 4, id="holidays-in-range"),
        pytest.param(MON, NEXT_MON, (MON,), 5, id="holiday-on-the-start-does-not-count"),
        pytest.param(NEXT_MON, MON, (), -5, id="backwards-is-negative"),
    ],
)
def test_business_days_between(a: date, b: date, holidays: tuple[date, ...], expected: int) -> None:
    assert business_days_between(a, b, holidays) == expected


@pytest.mark.parametrize("days", [0, 1, 4, 5, 6, 23, 260])
@pytest.mark.parametrize("start", [MON, WED, FRI, SAT, SUN])
def test_between_undoes_add(start: date, days: int) -> None:
    holidays = (date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1))
    due = add_business_days(start, days, holidays)
    assert business_days_between(start, due, holidays) == days
