"""Progress: rows in the default database, one per thing a learner did, so overlapping requests
each record theirs; shown on the pages and resettable. A visitor who only reads stores nothing."""

from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lessons.catalog import get_catalog
from lessons.learner.models import Learner, Opened
from lessons.learner.progress import JUST_HERE, SEEN_EVERY, Progress
from lessons.learner.quiz import choice_order
from tests.conftest import progress_of

LESSON = get_catalog().by_slug["n-plus-one"]
BAD = "count-comments.bad"


def answer_right(client: Client) -> None:
    question = LESSON.quiz[0]
    position = choice_order(progress_of(client).seed, question).index(question.answer)
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


def test_progress_is_read_back_from_rows(client: Client, data: None) -> None:
    client.post(reverse("lessons:opened", args=[LESSON.slug]))
    answer_right(client)
    learner = Learner.objects.get(pk=client.session["learner"])

    # A new process reads the rows back from the database, as this Progress does.
    stored = Progress(learner).for_lesson(LESSON)

    assert (stored.opened, stored.correct) == (True, 1)


def test_the_session_keeps_only_the_learner(client: Client, data: None) -> None:
    client.post(reverse("lessons:run", args=[LESSON.slug]), {"snippet": BAD, "dataset": "tiny"})
    answer_right(client)

    assert set(client.session.keys()) == {"learner"}


def test_progress_survives_across_clients_sharing_the_cookie(client: Client, data: None) -> None:
    answer_right(client)
    other = Client()
    other.cookies = client.cookies

    html = other.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    assert f"Quiz: <strong>1 / {len(LESSON.quiz)}</strong>" in html


def test_reset_forgets_everything_and_returns_to_the_page(client: Client, data: None) -> None:
    client.post(reverse("lessons:run", args=[LESSON.slug]), {"snippet": BAD, "dataset": "tiny"})
    answer_right(client)
    page = reverse("lessons:detail", args=[LESSON.slug])

    response = client.post(reverse("lessons:progress-reset"), {"next": page})

    assert response["Location"] == page
    assert progress_of(client).for_lesson(LESSON) == Progress(None).for_lesson(LESSON)


def test_reset_refuses_to_redirect_off_site(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:progress-reset"), {"next": "https://evil.example/"})

    assert response["Location"] == reverse("lessons:outline")


def test_reading_without_a_cookie_stores_no_session_or_learner(data: None) -> None:
    sessions, learners = Session.objects.count(), Learner.objects.count()
    pages = [
        reverse("lessons:outline"),
        reverse("lessons:detail", args=[LESSON.slug]),
        reverse("lessons:exam"),
        reverse("lessons:playground"),
        reverse("blog:post-list"),
    ]

    for page in pages * 3:
        assert Client().get(page).status_code == 200

    assert (Session.objects.count(), Learner.objects.count()) == (sessions, learners)


def test_a_lesson_page_without_a_learner_asks_the_browser_to_record_the_opening(
    client: Client, data: None
) -> None:
    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    assert f'hx-post="{reverse("lessons:opened", args=[LESSON.slug])}"' in html
    assert "learner" not in client.session


def test_the_opening_sent_by_the_browser_makes_the_learner(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:opened", args=[LESSON.slug]))

    assert response.status_code == 204
    assert progress_of(client).for_lesson(LESSON).opened


def test_a_known_learner_opening_a_page_is_recorded_without_asking(
    client: Client, data: None
) -> None:
    client.post(reverse("lessons:opened", args=[LESSON.slug]))
    other = get_catalog().by_slug["select-related"]

    html = client.get(reverse("lessons:detail", args=[other.slug])).content.decode()

    assert "lessons/select-related/opened/" not in html
    assert progress_of(client).for_lesson(other).opened


def test_reopening_the_lesson_just_opened_writes_nothing(client: Client, data: None) -> None:
    client.post(reverse("lessons:opened", args=[LESSON.slug]))
    seen = Learner.objects.get(pk=client.session["learner"]).last_seen

    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("lessons:detail", args=[LESSON.slug]))

    assert not [q for q in captured.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))]
    assert Learner.objects.get(pk=client.session["learner"]).last_seen == seen


def test_reopening_the_lesson_a_while_later_is_recorded(client: Client, data: None) -> None:
    client.post(reverse("lessons:opened", args=[LESSON.slug]))
    learner = Learner.objects.filter(pk=client.session["learner"])
    learner.update(last_seen=timezone.now() - JUST_HERE)

    client.get(reverse("lessons:detail", args=[LESSON.slug]))

    assert timezone.now() - learner.get().last_seen < JUST_HERE


def writes_during(work: object) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        work()  # type: ignore[operator]
    return [q["sql"] for q in captured if q["sql"].startswith(("INSERT", "UPDATE"))]


def test_answering_on_the_lesson_just_opened_stores_no_opening_again(
    client: Client, data: None
) -> None:
    client.post(reverse("lessons:opened", args=[LESSON.slug]))

    written = writes_during(lambda: answer_right(client))

    assert written and not [sql for sql in written if "lessons_opened" in sql]
    assert progress_of(client).for_lesson(LESSON).opened


def test_an_action_moments_after_another_leaves_last_seen_as_it_is(
    client: Client, data: None
) -> None:
    client.post(reverse("lessons:opened", args=[LESSON.slug]))
    seen = Learner.objects.get(pk=client.session["learner"]).last_seen

    written = writes_during(lambda: answer_right(client))

    assert not [sql for sql in written if "last_seen" in sql]
    assert Learner.objects.get(pk=client.session["learner"]).last_seen == seen


def test_an_action_after_a_while_moves_last_seen(client: Client, data: None) -> None:
    client.post(reverse("lessons:opened", args=[LESSON.slug]))
    learner = Learner.objects.filter(pk=client.session["learner"])
    learner.update(last_seen=timezone.now() - SEEN_EVERY)

    answer_right(client)

    assert timezone.now() - learner.get().last_seen < SEEN_EVERY


def test_a_lesson_reopened_after_a_reset_is_opened_again(client: Client, data: None) -> None:
    page = reverse("lessons:detail", args=[LESSON.slug])
    client.post(reverse("lessons:opened", args=[LESSON.slug]))
    client.post(reverse("lessons:progress-reset"), {"next": page})

    client.get(page)

    assert progress_of(client).for_lesson(LESSON).opened


def test_overlapping_requests_of_one_learner_each_record_theirs(
    course_server: str, data: None
) -> None:
    """Eight requests at once from one browser (four answers, four lessons opened): all eight
    are recorded. Progress kept in the session lost most of them, each request saving its own
    copy over the others'."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{course_server}{reverse('lessons:detail', args=[LESSON.slug])}")
    token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")

    def post(path: str, fields: dict[str, str]) -> int:
        body = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(
            f"{course_server}{path}", body, headers={"X-CSRFToken": token}
        )
        with opener.open(request) as response:
            return int(response.status)

    post(reverse("lessons:opened", args=[LESSON.slug]), {})  # the learner now exists
    learner = Learner.objects.order_by("-pk").first()
    assert learner is not None
    lessons = [lesson for lesson in get_catalog().lessons if lesson != LESSON][:4]
    answer_url = reverse("lessons:quiz-answer", args=[LESSON.slug])
    jobs = [(answer_url, {"question": q.id, "choice": "0"}) for q in LESSON.quiz[:4]] + [
        (reverse("lessons:opened", args=[lesson.slug]), {}) for lesson in lessons
    ]

    with ThreadPoolExecutor(len(jobs)) as pool:
        statuses = list(pool.map(lambda job: post(*job), jobs))

    progress = Progress(learner)
    assert all(status in (200, 204, 302) for status in statuses)
    assert len(progress.answers(LESSON.slug)) == 4
    assert set(Opened.objects.filter(learner=learner).values_list("lesson", flat=True)) == {
        LESSON.slug,
        *(lesson.slug for lesson in lessons),
    }


def test_progress_kept_in_an_old_session_moves_to_rows(data: None) -> None:
    import importlib

    from django.apps import apps
    from django.contrib.sessions.backends.db import SessionStore

    moving = importlib.import_module("lessons.migrations.0002_progress_from_sessions")
    question = LESSON.quiz[0]
    exercise = LESSON.exercises[0].id
    old = SessionStore()
    old["course"] = {
        "opened": [LESSON.slug],
        "runs": {LESSON.slug: [BAD]},
        "answers": {LESSON.slug: {question.id: question.answer}},
        "exercises": {exercise: {"checks": 3, "failed": 2, "solved": True, "revealed": False}},
    }
    old.create()

    moving.sessions_to_rows(apps, None)

    session = SessionStore(session_key=old.session_key)
    progress = Progress(Learner.objects.get(pk=session["learner"])).for_lesson(LESSON)
    assert "course" not in session
    assert (progress.opened, progress.pairs_run, progress.correct) == (True, 1, 1)
    assert (progress.exercises_attempted, progress.exercises_solved) == (1, 1)


def test_answers_given_before_the_first_choice_was_kept_score_their_one_choice(
    data: None,
) -> None:
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    from lessons.learner.models import Answer

    moving = importlib.import_module("lessons.migrations.0004_answer_first_choice")
    learner = Learner.objects.create()
    question = LESSON.quiz[0]
    kept = Answer.objects.create(
        learner=learner,
        quiz=LESSON.slug,
        question=question.id,
        choice=2,
        first_choice=0,
        correct=False,
    )

    moving.first_is_latest(apps, SimpleNamespace(connection=connection))

    kept.refresh_from_db()
    assert kept.first_choice == 2
