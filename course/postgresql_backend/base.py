"""PostgreSQL for the course's own tables (sessions, rooms, progress), with a kept connection's
health checked at most once every HEALTHY_FOR seconds rather than at every request.

Django's CONN_HEALTH_CHECKS sends `SELECT 1` before a kept connection's first query in each
request, so that one the server dropped (a restart) is replaced instead of failing the request.
A room's banner poll sends two queries of its own: the check was a third of them, and a round
trip through PostgreSQL at every request of 200 learners. A connection that was checked or opened
moments ago is taken as healthy; one idle longer is checked as Django checks it.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

from course.postgresql_backend import HEALTHY_FOR


class DatabaseWrapper(base.DatabaseWrapper):
    _vouched_at = float("-inf")
    health_check_done: bool  # Django's: set at a request's first query, cleared at its end

    def connect(self) -> None:
        super().connect()
        self._vouched_at = time.monotonic()

    def close_if_health_check_failed(self) -> None:
        recent = time.monotonic() - self._vouched_at < HEALTHY_FOR
        if self.connection is not None and not self.health_check_done and recent:
            self.health_check_done = True
            return
        checking = self.connection is not None and not self.health_check_done
        super().close_if_health_check_failed()
        if checking and self.connection is not None:  # it answered the check
            self._vouched_at = time.monotonic()
