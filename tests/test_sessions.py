"""The course's sessions are Django's database sessions read with a statement written once: what
they read is what Django's own store reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lessons.web.sessions import SessionStore

pytestmark = pytest.mark.django_db


def saved(data: dict[str, object]) -> str:
    store = DjangoStore()
    store.update(data)
    store.create()
    assert store.session_key is not None
    return store.session_key


def test_a_saved_session_reads_back_its_data() -> None:
    key = saved({"learner": 41, "instructor": 7})

    assert SessionStore(session_key=key).load() == {"learner": 41, "instructor": 7}


def test_reading_a_session_is_one_statement() -> None:
    key = saved({"learner": 41})

    with CaptureQueriesContext(connection) as captured:
        SessionStore(session_key=key).load()

    assert len(captured) == 1


def test_an_expired_session_reads_empty_and_drops_its_key() -> None:
    key = saved({"learner": 41})
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    store = SessionStore(session_key=key)

    assert store.load() == {}
    assert store.session_key is None


def test_an_unknown_key_reads_empty() -> None:
    assert SessionStore(session_key="nosuchsessionkey00000000").load() == {}


def test_a_session_whose_data_was_tampered_with_reads_empty() -> None:
    key = saved({"learner": 41})
    Session.objects.filter(pk=key).update(session_data="eyJsZWFybmVyIjoxfQ:forged:signature")

    assert SessionStore(session_key=key).load() == {}
