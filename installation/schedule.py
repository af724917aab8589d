"""Opening hours such as "Tue-Sun 10:00-18:00; Sat 10:00-22:00", in the machine's local time.

Rules are separated by ';' or ','. Each is a day or day range (Mon..Sun, wrapping: "Fri-Mon") and a
time range; an end at or before the start runs past midnight and belongs to the start day
("Fri 18:00-02:00"). "" means always open. Parsing is strict: anything else is a ValueError
naming the bad part, which the config turns into one line naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"^([A-Za-z]{3})(?:\s*-\s*([A-Za-z]{3}))?\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class Rule:
    days: frozenset[int]  # weekday numbers, Monday = 0
    start_min: int  # minutes after midnight
    end_min: int  # may be <= start_min: then the rule runs past midnight


@dataclass(frozen=True)
class Schedule:
    rules: tuple[Rule, ...]  # empty = always open

    def is_open(self, now: datetime) -> bool:
        if not self.rules:
            return True
        minute = now.hour * 60 + now.minute
        today, yesterday = now.weekday(), (now.weekday() - 1) % 7
        for r in self.rules:
            if r.end_min > r.start_min:
                if today in r.days and r.start_min <= minute < r.end_min:
                    return True
            elif (today in r.days and minute >= r.start_min) or (yesterday in r.days and minute < r.end_min):
                return True
        return False


def _day(name: str, text: str) -> int:
    try:
        return DAYS.index(name.lower())
    except ValueError:
        raise ValueError(f"unknown day {name!r} in {text!r} (use Mon Tue Wed Thu Fri Sat Sun)") from None


def _minutes(hour: str, minute: str, text: str) -> int:
    h, m = int(hour), int(minute)
    if h == 24 and m == 0:
        return 24 * 60
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"bad time {hour}:{minute} in {text!r}")
    return h * 60 + m


def parse_schedule(text: str) -> Schedule:
    """'Tue-Sun 10:00-18:00' -> Schedule; ValueError naming the bad part."""
    rules = []
    for part in re.split(r"[;,]", text):
        part = part.strip()
        if not part:
            continue
        m = _RULE.match(part)
        if m is None:
            raise ValueError(f"cannot read {part!r}; expected e.g. 'Tue-Sun 10:00-18:00'")
        first = _day(m.group(1), part)
        last = _day(m.group(2), part) if m.group(2) else first
        days = frozenset((first + i) % 7 for i in range((last - first) % 7 + 1))
        start, end = _minutes(m.group(3), m.group(4), part), _minutes(m.group(5), m.group(6), part)
        if start == end or start == 24 * 60:
            raise ValueError(f"empty time range in {part!r}")
        rules.append(Rule(days, start, end % (24 * 60) if end == 24 * 60 else end))
    if text.strip() and not rules:
        raise ValueError(f"cannot read {text!r}; expected e.g. 'Tue-Sun 10:00-18:00'")
    return Schedule(tuple(rules))
