"""Learners' own code: an edited snippet, the playground and POST /api/run/, and the
COURSE_EDITING switch that allows or refuses them."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lessons import datasets, engine
from lessons.catalog import get_catalog
from tests.conftest import expected

LESSON = get_catalog().by_slug["n-plus-one"]
BAD = LESSON.snippets["count-comments.bad"]
FIXED = LESSON.snippets["count-comments.fixed"]
RUN_URL = reverse("lessons:run", args=[LESSON.slug])
API_RUN = reverse("lessons:api-run-code")


def panel(html: str) -> str:
    found = re.search(r'<section class="panel"[^>]*>', html, re.S)
    assert found, html[:500]
    return found.group(0)


def run_card(client: Client, code: str, **extra: Any) -> Any:
    data = {"snippet": BAD.id, "dataset": "medium", "code": code}
    return client.post(RUN_URL, data, HTTP_HX_REQUEST="true", **extra)


def test_an_edited_snippet_runs_the_learners_code(client: Client, data: None) -> None:
    response = run_card(client, FIXED.code)

    promised = expected(FIXED, "medium")
    assert f'data-query-count="{promised}"' in panel(response.content.decode())


def test_an_edited_run_is_marked_and_not_held_to_the_promise(client: Client, data: None) -> None:
    head = panel(run_card(client, FIXED.code).content.decode())

    assert 'data-edited="true"' in head
    assert 'data-expected-count=""' in head and "data-matches" not in head


def test_the_edited_code_stays_in_the_card_after_the_run(client: Client, data: None) -> None:
    html = run_card(client, FIXED.code).content.decode()

    textarea = re.search(r'<textarea class="code-input"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea and "disabled" not in textarea.group(0).split(">")[0]
    assert "annotate" in textarea.group(1) or FIXED.code.splitlines()[0] in textarea.group(1)


def test_posting_the_lessons_own_code_is_held_to_the_promise(client: Client, data: None) -> None:
    head = panel(run_card(client, BAD.code.replace("\n", "\r\n")).content.decode())

    assert "data-edited" not in head and 'data-matches="true"' in head


def test_edit_buttons_are_shown_when_editing_is_allowed(client: Client, data: None) -> None:
    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    assert html.count("data-edit ") == len(LESSON.snippets)


def test_edit_buttons_are_hidden_when_editing_is_off(
    client: Client, data: None, settings: Any
) -> None:
    settings.COURSE_EDITING = "off"
    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    assert "data-edit" not in html and 'name="code"' not in html


def test_an_edited_run_is_refused_with_a_reason_when_editing_is_off(
    client: Client, data: None, settings: Any
) -> None:
    settings.COURSE_EDITING = "off"
    response = run_card(client, FIXED.code)

    assert response.status_code == 403
    assert "COURSE_EDITING=on" in response.content.decode()


def test_the_lessons_own_code_still_runs_when_editing_is_off(
    client: Client, data: None, settings: Any
) -> None:
    settings.COURSE_EDITING = "off"

    assert run_card(client, BAD.code).status_code == 200


def test_local_editing_refuses_another_machine(client: Client, data: None) -> None:
    response = client.post(API_RUN, {"code": "print(1)"}, REMOTE_ADDR="192.168.1.20")

    assert response.status_code == 403
    assert response.json()["error"]["type"] == "EditingOff"


def test_editing_on_allows_another_machine(client: Client, data: None, settings: Any) -> None:
    settings.COURSE_EDITING = "on"
    response = client.post(API_RUN, {"code": "print(1)"}, REMOTE_ADDR="192.168.1.20")

    assert response.status_code == 200


def test_api_run_answers_the_snippet_shape_without_a_promise(client: Client, data: None) -> None:
    response = client.post(API_RUN, {"code": FIXED.code, "dataset": "medium"})

    body = response.json()
    assert "lesson" not in body and "snippet" not in body
    assert body["expected_query_count"] is None
    assert body["query_count"] == expected(FIXED, "medium")
    assert body["dataset"]["name"] == "medium" and body["error"] is None


def test_api_run_without_code_is_a_400_with_a_message(client: Client, data: None) -> None:
    response = client.post(API_RUN, {"code": "   "})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "MissingCode"


def test_api_run_refuses_code_past_the_size_limit(
    client: Client, data: None, settings: Any
) -> None:
    settings.COURSE_RUN_MAX_CODE_CHARS = 100
    response = client.post(API_RUN, {"code": "x = 1\n" * 50})

    assert response.status_code == 413
    assert "at most 100" in response.json()["error"]["message"]


def test_api_run_reports_the_learners_error_with_its_line(client: Client, data: None) -> None:
    body = client.post(API_RUN, {"code": "x = 1\nPost.objects.get(pk=-1)"}).json()

    assert body["error"]["type"] == "DoesNotExist" and body["error"]["line"] == 2


def test_what_learner_code_deletes_is_still_there_afterwards(client: Client, data: None) -> None:
    before = datasets.checksum("tiny")

    client.post(API_RUN, {"code": "Comment.objects.all().delete()\nPost.objects.all().delete()"})

    assert datasets.checksum("tiny") == before


def test_playground_opens_a_cards_code(client: Client, data: None) -> None:
    url = reverse("lessons:playground")
    html = client.get(url, {"lesson": LESSON.slug, "snippet": BAD.id}).content.decode()

    textarea = re.search(r'<textarea[^>]*name="code"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea and "post.comments.count()" in textarea.group(1)


def test_playground_opens_shared_code_on_its_dataset(client: Client, data: None) -> None:
    url = reverse("lessons:playground")
    html = client.get(url, {"code": "print('shared')", "dataset": "large"}).content.decode()

    assert "print(&#x27;shared&#x27;)" in html
    assert re.search(r'value="large" checked', html)


def test_playground_run_gives_a_share_link_that_opens_the_same_code(
    client: Client, data: None
) -> None:
    code = "for tag in Tag.objects.all():\n    print(tag.name)"
    html = client.post(
        reverse("lessons:playground-run"), {"code": code, "dataset": "tiny"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    link = re.search(r'class="share-link" href="([^"]+)"', html)
    assert link

    shared = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert "for tag in Tag.objects.all():" in shared


def test_playground_without_javascript_answers_the_whole_page(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:playground-run"), {"code": "print(1)"})

    html = response.content.decode()
    assert "<html" in html and 'data-snippet="playground"' in html


def test_playground_is_403_when_editing_is_off(client: Client, data: None, settings: Any) -> None:
    settings.COURSE_EDITING = "off"

    assert client.get(reverse("lessons:playground")).status_code == 403


@pytest.mark.parametrize(
    ("model", "name", "kind"),
    [
        ("Post.objects", "comments", "many Comment"),
        ("Post.objects", "tags", "ManyToManyField → Tag"),
        ("Author.objects", "profile", "Profile"),
        ("Author.objects", "email", "EmailField(254)"),
    ],
)
def test_playground_reference_is_read_from_the_models(
    client: Client, data: None, model: str, name: str, kind: str
) -> None:
    html = client.get(reverse("lessons:playground")).content.decode()

    section = html.split(f"<code>{model}</code>", 1)[1].split("</section>", 1)[0]
    assert re.search(rf"<code>{name}</code></dt><dd>{re.escape(kind)}", section)


def test_lesson_command_runs_a_file_of_your_own_code(tmp_path: Any, data: None) -> None:
    from io import StringIO

    from django.core.management import call_command

    mine = tmp_path / "mine.py"
    mine.write_text("for post in Post.objects.all():\n    print(post.comments.count())\n")
    out = StringIO()
    call_command("lesson", str(mine), "--dataset", "medium", stdout=out)

    posts = datasets.stats("medium").counts["posts"]
    report = out.getvalue()
    assert f"{1 + posts:,} queries" in report
    assert f"N+1 detected: one SELECT ran {posts:,} times" in report and "(line 2)" in report


def test_lesson_command_fails_on_code_that_raises(tmp_path: Any, data: None) -> None:
    from django.core.management import CommandError, call_command

    broken = tmp_path / "broken.py"
    broken.write_text("Post.objects.get(pk=-1)\n")

    with pytest.raises(CommandError, match="DoesNotExist"):
        call_command("lesson", str(broken), stdout=open(os.devnull, "w"))  # noqa: SIM115


def test_learners_code_is_refused_to_others_where_no_wall_guards_files_and_network(
    client: Client, data: None, settings: Any
) -> None:
    settings.COURSE_EDITING = "on"
    settings.COURSE_RUN_WALLS = ()  # as on a kernel that builds none of them

    response = client.post(API_RUN, {"code": "print(1)", "dataset": "tiny"})

    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Learners' own code is refused on this server: the kernel cannot wall runs off from the "
        "files and network here (see the server's start-up lines and SECURITY.md). Whoever "
        "started it can accept the risk with COURSE_ACCEPT_RISK=yes "
        "(make workshop EDITING=on ACCEPT_RISK=yes)."
    )


def test_an_instructor_may_accept_the_risk_of_unwalled_runs(
    client: Client, data: None, settings: Any
) -> None:
    settings.COURSE_EDITING = "on"
    settings.COURSE_RUN_WALLS = ()
    settings.COURSE_ACCEPT_RISK = True

    response = client.post(API_RUN, {"code": "print(1)", "dataset": "tiny"})

    assert response.status_code == 200 and response.json()["output"] == "1"


def test_one_wall_on_files_and_one_on_the_network_are_enough(
    client: Client, data: None, settings: Any
) -> None:
    if not {"landlock", "seccomp"} <= engine.walls(engine.WALLS).built:
        pytest.skip("needs Landlock and seccomp")
    settings.COURSE_EDITING = "on"
    settings.COURSE_RUN_WALLS = ("landlock", "seccomp")

    response = client.post(API_RUN, {"code": "print(1)", "dataset": "tiny"})

    assert response.status_code == 200
