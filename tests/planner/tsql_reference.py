"""T-SQL's date functions written out in plain Python, independently of the planner, as test oracles.

Semantics from the T-SQL reference: DATEDIFF counts datepart boundaries crossed between the two
dates (weeks start on Sunday, whatever DATEFIRST says); DATEADD clamps to the last day of a shorter
month; an integer as a date is that many days after 1900-01-01; DATEPART(weekday) is 1..7 from
Sunday under the default DATEFIRST 7, DATEPART(week) counts weeks from the one holding 1 January.
"""

from __future__ import annotations

import calendar
import datetime as dt

EPOCH = dt.datetime(1900, 1, 1)
_A_SUNDAY = dt.date(1899, 12, 31)


def as_datetime(value: int | dt.date | dt.datetime) -> dt.datetime:
    """A T-SQL date argument as a naive UTC datetime."""
    if isinstance(value, int):
        return EPOCH + dt.timedelta(days=value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    return dt.datetime(value.year, value.month, value.day)


def _months(d: dt.datetime) -> int:
    return d.year * 12 + d.month - 1


def _week_index(d: dt.datetime) -> int:
    return (d.date() - _A_SUNDAY).days // 7


def _floor(d: dt.datetime, seconds: int) -> int:
    return int((d - EPOCH).total_seconds() // seconds)


def datediff(unit: str, start: int | dt.date, end: int | dt.date) -> int:
    a, b = as_datetime(start), as_datetime(end)
    if unit == "year":
        return b.year - a.year
    if unit == "quarter":
        return _months(b) // 3 - _months(a) // 3
    if unit == "month":
        return _months(b) - _months(a)
    if unit in ("day", "dayofyear", "weekday"):
        return (b.date() - a.date()).days
    if unit == "week":
        return _week_index(b) - _week_index(a)
    seconds = {"hour": 3600, "minute": 60, "second": 1}[unit]
    return _floor(b, seconds) - _floor(a, seconds)


def add_months(d: dt.datetime, n: int) -> dt.datetime:
    total = _months(d) + n
    year, month = divmod(total, 12)
    day = min(d.day, calendar.monthrange(year, month + 1)[1])
    return d.replace(year=year, month=month + 1, day=day)


def dateadd(unit: str, n: int, value: int | dt.date) -> dt.datetime:
    d = as_datetime(value)
    if unit in ("year", "quarter", "month"):
        return add_months(d, n * {"year": 12, "quarter": 3, "month": 1}[unit])
    days = {"week": 7, "day": 1}.get(unit)
    if days is not None:
        return d + dt.timedelta(days=n * days)
    return d + dt.timedelta(seconds=n * {"hour": 3600, "minute": 60, "second": 1}[unit])


def datepart(unit: str, value: int | dt.date) -> int:
    d = as_datetime(value)
    simple = {
        "year": d.year,
        "quarter": (d.month - 1) // 3 + 1,
        "month": d.month,
        "day": d.day,
        "dayofyear": d.timetuple().tm_yday,
        "hour": d.hour,
        "minute": d.minute,
        "second": d.second,
        "millisecond": d.microsecond // 1000,
        "iso_week": d.isocalendar()[1],
    }
    if unit in simple:
        return simple[unit]
    if unit == "weekday":
        return d.isoweekday() % 7 + 1
    if unit == "week":
        return datediff("week", dt.datetime(d.year, 1, 1), d) + 1
    raise ValueError(unit)


def datename(unit: str, value: int | dt.date) -> str:
    d = as_datetime(value)
    if unit == "month":
        return calendar.month_name[d.month]
    if unit == "weekday":
        return calendar.day_name[d.weekday()]
    return str(datepart(unit, d))


def eomonth(value: int | dt.date, months: int = 0) -> dt.date:
    d = add_months(as_datetime(value), months)
    return d.replace(day=calendar.monthrange(d.year, d.month)[1]).date()


#: Superset's MSSQL time grains (``MssqlEngineSpec._time_grain_expressions``) and their meaning.
GRAINS: dict[str, str] = {
    "PT1S": "DATEADD(SECOND, DATEDIFF(SECOND, '2000-01-01', {col}), '2000-01-01')",
    "PT1M": "DATEADD(MINUTE, DATEDIFF(MINUTE, 0, {col}), 0)",
    "PT5M": "DATEADD(MINUTE, DATEDIFF(MINUTE, 0, {col}) / 5 * 5, 0)",
    "PT15M": "DATEADD(MINUTE, DATEDIFF(MINUTE, 0, {col}) / 15 * 15, 0)",
    "PT1H": "DATEADD(HOUR, DATEDIFF(HOUR, 0, {col}), 0)",
    "P1D": "DATEADD(DAY, DATEDIFF(DAY, 0, {col}), 0)",
    "P1W": "DATEADD(DAY, 1 - DATEPART(WEEKDAY, {col}), DATEADD(DAY, DATEDIFF(DAY, 0, {col}), 0))",
    "P1W/monday": "DATEADD(WEEK, DATEDIFF(WEEK, 0, {col}), 0)",
    "P1M": "DATEADD(MONTH, DATEDIFF(MONTH, 0, {col}), 0)",
    "P3M": "DATEADD(QUARTER, DATEDIFF(QUARTER, 0, {col}), 0)",
    "P1Y": "DATEADD(YEAR, DATEDIFF(YEAR, 0, {col}), 0)",
    "1969-12-28/P1W": "DATEADD(DAY, -1, DATEADD(WEEK, DATEDIFF(WEEK, 0, {col}), 0))",
    "sunday-after-shift": "DATEADD(DAY, -1, DATEADD(WEEK, DATEDIFF(WEEK, 0, DATEADD(DAY, 1, {col})), 0))",
    "1969-12-29/P1W": "DATEADD(WEEK, DATEDIFF(WEEK, 0, DATEADD(DAY, -1, {col})), 0)",
}


def grain(name: str, value: dt.datetime) -> dt.datetime:
    """What each grain of :data:`GRAINS` gives, computed directly (truncation), not by the idiom."""
    d = as_datetime(value)
    day = dt.datetime(d.year, d.month, d.day)
    sunday = day - dt.timedelta(days=d.isoweekday() % 7)
    if name.startswith("PT") and name.endswith("M"):
        step = int(name[2:-1])
        return d.replace(minute=d.minute - d.minute % step, second=0, microsecond=0)
    table = {
        "PT1S": d.replace(microsecond=0),
        "PT1H": d.replace(minute=0, second=0, microsecond=0),
        "P1D": day,
        "P1W": sunday,
        # 1900-01-01 is a Monday and DATEDIFF(WEEK) counts Sundays: the Monday after the last Sunday
        # on or before the date -- the next day when the date is a Sunday.
        "P1W/monday": sunday + dt.timedelta(days=1),
        "P1M": dt.datetime(d.year, d.month, 1),
        "P3M": dt.datetime(d.year, (d.month - 1) // 3 * 3 + 1, 1),
        "P1Y": dt.datetime(d.year, 1, 1),
        # weeks starting Sunday: the Sunday on or before the date
        "1969-12-28/P1W": sunday,
        # the Sunday on or before the next day: a Saturday maps to the following day
        "sunday-after-shift": sunday + dt.timedelta(days=7 if d.isoweekday() == 6 else 0),
        # weeks starting Monday: the Monday on or before the date
        "1969-12-29/P1W": day - dt.timedelta(days=d.weekday()),
    }
    return table[name]
