"""Django's database sessions, read with one fixed SQL statement instead of the ORM: every
request of a room reads its session, and building `Session.objects.get(...)` took Django
several times longer than the database took to answer it. Writing, rotating keys and expiry
are Django's own."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        key = self.session_key
        if key is None:  # Django asks only with a key; nothing to read without one
            return None
        model = self.model
        connection = connections[router.db_for_read(model)]
        quote = connection.ops.quote_name
        sql = (
            f"SELECT {quote('session_data')} FROM {quote(model._meta.db_table)}"
            f" WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [key, now])
            row = cursor.fetchone()
        if row is None:  # unknown or expired: as Django's, the key is not kept
            self._session_key = None
            return None
        return model(session_key=key, session_data=row[0])
