"""Progress: per browser session, stored in the default database, shown and resettable."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse

from lessons.catalog import get_catalog
from lessons.learner.progress import Progress
from lessons.learner.quiz import choice_order

LESSON = get_catalog().by_slug["n-plus-one"]
BAD = "count-comments.bad"


def answer_right(client: Client) -> None:
    question = LESSON.quiz[0]
    position = choice_order(Progress(client.session).seed, question).index(question.answer)
    client.post(
        reverse("lessons:quiz-answer", args=[LESSON.slug]),
        {"question": question.id, "choice": position},
    )


def test_opening_running_and_answering_show_on_the_outline(client: Client, data: None) -> None:
    client.get(reverse("lessons:detail", args=[LESSON.slug]))
    client.post(reverse("lessons:run", args=[LESSON.slug]), {"snippet": BAD, "dataset": "tiny"})
    answer_right(client)

    html = client.get(reverse("lessons:outline")).content.decode()

    assert f"Lessons opened: <strong>1 / {len(get_catalog().lessons)}</strong>" in html
    assert f"ran 1/{len(LESSON.comparisons)}" in html
    assert f"quiz 1/{len(LESSON.quiz)}" in html


def test_lesson_page_shows_its_own_progress(client: Client, data: None) -> None:
    client.post(reverse("lessons:run", args=[LESSON.slug]), {"snippet": BAD, "dataset": "tiny"})
    answer_right(client)

    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    assert f'data-pairs-run="1">1 / {len(LESSON.comparisons)}</strong>' in html
    assert f"Quiz: <strong>1 / {len(LESSON.quiz)}</strong>" in html


def test_progress_is_stored_in_the_default_database(client: Client, data: None) -> None:
    client.get(reverse("lessons:detail", args=[LESSON.slug]))
    answer_right(client)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value

    # A new process would read the session row back from the database, as this store does.
    stored = Progress(SessionStore(session_key=session_key))

    assert stored.for_lesson(LESSON).opened
    assert stored.for_lesson(LESSON).correct == 1


def test_progress_survives_across_clients_sharing_the_cookie(client: Client, data: None) -> None:
    client.get(reverse("lessons:detail", args=[LESSON.slug]))
    answer_right(client)
    other = Client()
    other.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value

    html = other.get(reverse("lessons:outline")).content.decode()

    assert "Lessons opened: <strong>1 /" in html


def test_reset_forgets_everything_and_returns_to_the_page(client: Client, data: None) -> None:
    client.get(reverse("lessons:detail", args=[LESSON.slug]))
    answer_right(client)

    response = client.post(reverse("lessons:progress-reset"), {"next": "/lessons/n-plus-one/"})

    assert response.status_code == 302 and response["Location"] == "/lessons/n-plus-one/"
    assert Progress(client.session).answers(LESSON.slug) == {}
    assert not Progress(client.session).for_lesson(LESSON).opened


def test_reset_refuses_to_redirect_off_site(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:progress-reset"), {"next": "https://example.com/"})

    assert response["Location"] == reverse("lessons:outline")
