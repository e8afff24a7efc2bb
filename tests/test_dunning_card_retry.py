"""Tests for ``rbm_dunning/engine/card_retry.py`` (plain Python, no Odoo)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import card_retry


def test_parse_schedule():
    assert card_retry.parse_schedule("1,3,5,7") == (1, 3, 5, 7)
    assert card_retry.parse_schedule(" 2 , 10 ") == (2, 10)
    assert card_retry.parse_schedule("4") == (4,)


@pytest.mark.parametrize(
    ("text", "reason", "part"),
    [
        ("", "empty", ""),
        (" , ", "empty", ""),
        ("1,,3", "not_a_number", ""),
        ("1,a,3", "not_a_number", "a"),
        ("1,-3", "not_a_number", "-3"),
        ("1.5", "not_a_number", "1.5"),
        ("0,1", "not_positive", "0"),
        ("1,400", "too_late", "400"),
        ("1,3,3", "not_increasing", "3"),
        ("5,3", "not_increasing", "3"),
        ("١", "not_a_number", "١"),
        (",".join(str(day) for day in range(1, 32)), "too_many", "31"),
    ],
)
def test_parse_schedule_refuses(text, reason, part):
    with pytest.raises(card_retry.ScheduleError) as error:
        card_retry.parse_schedule(text)
    assert error.value.reason == reason
    assert error.value.part == part


def test_next_retry_dates_follow_the_schedule():
    schedule = (1, 3, 5, 7)
    first = date(2026, 3, 10)
    # each retry made on its day schedules the next one
    dates = []
    today = first
    for failures in range(1, 6):
        retry = card_retry.next_retry_date(schedule, first, failures, today)
        dates.append(retry)
        today = retry
    assert dates == [
        date(2026, 3, 11),
        date(2026, 3, 13),
        date(2026, 3, 15),
        date(2026, 3, 17),
        None,
    ]


def test_late_retry_is_tomorrow_not_today():
    # the cron did not run for a week: the next retry is tomorrow, never a burst
    first = date(2026, 3, 10)
    assert card_retry.next_retry_date((1, 3), first, 1, date(2026, 3, 20)) == date(2026, 3, 21)


def test_next_retry_date_requires_dates():
    with pytest.raises(TypeError):
        card_retry.next_retry_date((1,), "2026-03-10", 1, date(2026, 3, 10))
    assert card_retry.next_retry_date((1,), date(2026, 3, 10), 0, date(2026, 3, 10)) is None


@given(
    st.lists(st.integers(min_value=1, max_value=365), min_size=1, max_size=30, unique=True),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
)
def test_retries_are_strictly_later_and_stop(days, first):
    schedule = card_retry.parse_schedule(",".join(str(day) for day in sorted(days)))
    today = first
    count = 0
    for failures in range(1, len(schedule) + 2):
        retry = card_retry.next_retry_date(schedule, first, failures, today)
        if retry is None:
            break
        assert retry > today
        assert retry - first >= timedelta(days=schedule[failures - 1])
        today = retry
        count += 1
    assert count == len(schedule)
