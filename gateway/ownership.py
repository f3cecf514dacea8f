"""A short-lived, per-process memory of "user U owns project P" answers from the projects service."""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.expiring_map import ExpiringMap


class OwnershipCache:
    """Positive answers only, each kept ``ttl_seconds``; a missing or foreign project is asked about every time."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self._expiry: ExpiringMap[tuple[int, int], bool] = ExpiringMap(max_entries, clock)

    def owns(self, user_id: int, project_id: int) -> bool:
        return self._expiry.get((user_id, project_id)) is not None

    def remember(self, user_id: int, project_id: int) -> None:
        if self.ttl_seconds > 0:
            self._expiry.put((user_id, project_id), True, self._expiry.clock() + self.ttl_seconds)

    def forget_project(self, project_id: int) -> None:
        self._expiry.discard_where(lambda key: key[1] == project_id)
