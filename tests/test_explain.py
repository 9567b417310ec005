"""EXPLAIN: only for statements the course captured, never for SQL from the browser."""

from __future__ import annotations

import re

from django.core import signing
from django.test import Client
from django.urls import reverse

from lessons.engine.capture import CapturedQuery
from lessons.measure.explain import SALT, explain, sign

BAD = "count-comments.bad"


def first_token(client: Client) -> str:
    response = client.post(
        reverse("lessons:run", args=["n-plus-one"]),
        {"snippet": BAD, "dataset": "medium"},
        HTTP_HX_REQUEST="true",
    )
    tokens = re.findall(r'name="token" value="([^"]+)"', response.content.decode())
    assert tokens, "the panel offers a plan for each statement it shows"
    return tokens[1]  # the per-post COUNT(*)


def test_plan_of_a_captured_statement(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:explain"), {"token": first_token(client)}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="plan"' in html
    assert "blog_comment" in html  # SQLite's plan names the table it searches


def test_plan_without_javascript_is_a_page(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:explain"), {"token": first_token(client)})

    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_sql_sent_by_the_browser_is_refused(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:explain"), {"token": "SELECT * FROM blog_post"})

    assert response.status_code == 400
    assert "did not come from a query the course ran" in response.content.decode()


def test_token_signed_with_another_key_is_refused(client: Client, data: None) -> None:
    forged = signing.dumps(
        {"d": "medium", "s": "DELETE FROM blog_post", "p": []}, key="not-the-course-key", salt=SALT
    )

    response = client.post(reverse("lessons:explain"), {"token": forged})

    assert response.status_code == 400


def test_explain_never_runs_the_statement(data: None) -> None:
    from blog import datasets

    before = datasets.checksum("tiny")
    plan = explain(sign("tiny", CapturedQuery("DELETE FROM blog_comment", None, False, 0, 1)))

    assert plan.lines  # SQLite describes how it would delete
    assert datasets.checksum("tiny") == before
