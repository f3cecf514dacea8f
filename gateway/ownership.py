"""A short-lived, per-process memory of "user U owns project P" answers from the projects service."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class OwnershipCache:
    """Positive answers only, each kept ``ttl_seconds``; a missing or foreign project is asked about every time."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: dict[tuple[int, int], float] = {}
        self._lock = threading.Lock()

    def owns(self, user_id: int, project_id: int) -> bool:
        with self._lock:
            expires_at = self._expiry.get((user_id, project_id))
            if expires_at is None:
                return False
            if expires_at <= self._clock():
                del self._expiry[(user_id, project_id)]
                return False
            return True

    def remember(self, user_id: int, project_id: int) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            now = self._clock()
            if len(self._expiry) >= self.max_entries:
                self._expiry = {key: expiry for key, expiry in self._expiry.items() if expiry > now}
                if len(self._expiry) >= self.max_entries:
                    self._expiry.clear()
            self._expiry[(user_id, project_id)] = now + self.ttl_seconds

    def forget_project(self, project_id: int) -> None:
        with self._lock:
            for key in [key for key in self._expiry if key[1] == project_id]:
                del self._expiry[key]
