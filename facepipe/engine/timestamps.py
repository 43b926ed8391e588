"""RFC 3339 / ISO-8601 extended offset date-times, as Wait and Choice accept them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})"
)


def parse_timestamp(text: object) -> datetime | None:
    """The instant a timestamp string names, or None when it is not one.

    A zone (`Z` or `+hh:mm`) is required; fractions beyond microseconds (AWS accepts
    nanoseconds) are truncated.
    """
    if not isinstance(text, str):
        return None
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7) or "0", match.group(8)
    micro = int(fraction[:6].ljust(6, "0"))
    tz = UTC
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds, as `$$.Execution.StartTime` is written."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"
