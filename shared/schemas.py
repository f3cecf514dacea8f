"""marshmallow fields every service's schemas use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import fields

from shared.clock import as_utc


class UtcDateTime(fields.DateTime):
    """ISO 8601 with its UTC offset, also for the naive datetimes that SQLite gives back."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return super()._serialize(as_utc(value), attr, obj, **kwargs)
