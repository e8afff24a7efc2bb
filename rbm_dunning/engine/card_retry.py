"""Retry schedule of failed card charges (plain Python, no Odoo import).

A schedule is a list of whole days counted from the first failed charge of an
invoice, e.g. ``1,3,5,7``: after the first failure the card is charged again
1, 3, 5 and 7 days later, then no more.
"""

from datetime import date, timedelta

MAX_DAYS = 365
MAX_RETRIES = 30


class ScheduleError(ValueError):
    """A schedule that cannot be used. ``reason`` is one of ``empty``,
    ``not_a_number``, ``not_positive``, ``too_late``, ``not_increasing``,
    ``too_many``; ``part`` is the offending piece of text."""

    def __init__(self, reason, part=""):
        super().__init__(f"{reason}: {part!r}")
        self.reason = reason
        self.part = part


def parse_schedule(text):
    """``"1, 3,5,7"`` -> ``(1, 3, 5, 7)``; raises ``ScheduleError``."""
    parts = [part.strip() for part in (text or "").split(",")]
    if not any(parts):
        raise ScheduleError("empty")
    days = []
    for part in parts:
        if not part.isdigit() or not part.isascii():
            raise ScheduleError("not_a_number", part)
        day = int(part)
        if day < 1:
            raise ScheduleError("not_positive", part)
        if day > MAX_DAYS:
            raise ScheduleError("too_late", part)
        if days and day <= days[-1]:
            raise ScheduleError("not_increasing", part)
        days.append(day)
    if len(days) > MAX_RETRIES:
        raise ScheduleError("too_many", str(len(days)))
    return tuple(days)


def next_retry_date(schedule, first_failure, failures, today):
    """Date of the next retry after ``failures`` failed charges (at least 1),
    the first one on ``first_failure``; ``None`` once the schedule is over.

    A retry never falls on ``today`` or earlier: when retries ran late, the
    next one is tomorrow, so that a run charges an invoice at most once.
    """
    if not isinstance(first_failure, date) or not isinstance(today, date):
        raise TypeError("first_failure and today must be dates")
    if failures < 1 or failures > len(schedule):
        return None
    planned = first_failure + timedelta(days=schedule[failures - 1])
    return max(planned, today + timedelta(days=1))
