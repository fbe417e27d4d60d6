"""Six-field cron expressions (``second minute hour day-of-month month day-of-week``, UTC), the
form SWR and Harbor schedules use. Fields take ``*``, ``n``, ``a-b``, ``*/s``, ``a-b/s`` and
comma-separated lists of those; day of week is 0-6 from Sunday (7 is Sunday too). As in classic
cron, when both day fields are restricted a day matching either one fires."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from moorage.domain.errors import Invalid

_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body in ("*", "?"):
                start, end = low, high
            elif "-" in body:
                first, _, last = body.partition("-")
                start, end = int(first), int(last)
            else:
                start = int(body)
                end = high if step_text else start
        except ValueError:
            raise Invalid(f"invalid cron {name} field {text!r}") from None
        if step < 1 or not low <= start <= end <= high:
            raise Invalid(f"cron {name} field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed cron expression."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse six fields; ``Invalid`` says what is wrong."""
        parts = expression.split()
        if len(parts) != 6:
            raise Invalid(
                f"a cron expression has six fields (second minute hour day month weekday), got {expression!r}"
            )
        parsed = [_field(text, name, low, high) for text, (name, low, high) in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(0 if d == 7 else d for d in parsed[5])
        return cls(
            parsed[0],
            parsed[1],
            parsed[2],
            parsed[3],
            parsed[4],
            weekdays,
            parts[3] not in ("*", "?"),
            parts[5] not in ("*", "?"),
        )

    def matches(self, moment: datetime.datetime) -> bool:
        """Whether the schedule fires at this second (UTC)."""
        if moment.second not in self.seconds or moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        if moment.month not in self.months:
            return False
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def fired_between(self, start_ms: int, end_ms: int, *, max_window_seconds: int = 3600) -> bool:
        """Whether it fires at a whole second in (start, end]; windows longer than
        ``max_window_seconds`` look at their last part only (missed runs are not caught up)."""
        first = max(start_ms // 1000 + 1, end_ms // 1000 - max_window_seconds)
        for second in range(first, end_ms // 1000 + 1):
            if self.matches(datetime.datetime.fromtimestamp(second, datetime.UTC)):
                return True
        return False
