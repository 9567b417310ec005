"""The JSON API."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from lessons import datasets
from lessons.catalog import get_catalog
from tests.conftest import expected

LESSON = "n-plus-one"
BAD = "count-comments.bad"


def api_run(client: Client, snippet: str = BAD, dataset: str = "medium", slug: str = LESSON):
    return client.post(reverse("lessons:api-run", args=[slug, snippet]), {"dataset": dataset})


def test_lessons_lists_every_lesson_with_its_snippets(client: Client) -> None:
    lessons = client.get(reverse("lessons:api-lessons")).json()["lessons"]

    catalog = get_catalog()
    assert [item["slug"] for item in lessons] == [lesson.slug for lesson in catalog.lessons]
    n_plus_one = next(item for item in lessons if item["slug"] == LESSON)
    assert {s["id"] for s in n_plus_one["snippets"]} == set(catalog.by_slug[LESSON].snippets)


def test_datasets_lists_names_and_row_counts(client: Client, data: None) -> None:
    items = client.get(reverse("lessons:api-datasets")).json()["datasets"]

    assert [item["name"] for item in items] == list(datasets.SPECS)
    for item in items:
        assert item["seeded"] is True
        assert item["posts"] == datasets.stats(item["name"]).counts["posts"]


def test_run_returns_the_documented_shape(client: Client, data: None) -> None:
    body = api_run(client).json()

    counts = datasets.stats("medium").counts
    promised = expected(get_catalog().by_slug[LESSON].snippets[BAD], "medium")
    assert body["lesson"] == LESSON and body["snippet"] == BAD
    assert body["dataset"]["name"] == "medium" and body["dataset"]["posts"] == counts["posts"]
    assert body["query_count"] == body["expected_query_count"] == promised
    assert len(body["queries"]) == promised
    assert body["lines"] == {"2": 1, "3": counts["posts"]}
    assert body["error"] is None
    assert body["duration_ms"] > 0
    first, repeated = body["queries"][0], body["queries"][1]
    assert set(first) == {"sql", "params", "duration_ms", "line", "similar", "duplicate"}
    assert (repeated["line"], repeated["similar"], repeated["duplicate"]) == (3, counts["posts"], 1)
    assert repeated["params"] == [body["queries"][1]["params"][0]]


def test_run_unknown_snippet_is_404_json(client: Client, data: None) -> None:
    response = api_run(client, snippet="nope.bad")

    assert response.status_code == 404
    assert "no snippet" in response.json()["error"]["message"]


def test_run_unknown_lesson_is_404_json(client: Client, data: None) -> None:
    response = api_run(client, slug="nope")

    assert response.status_code == 404


def test_run_unknown_dataset_is_400_json(client: Client, data: None) -> None:
    response = api_run(client, dataset="huge")

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "UnknownDataset",
            "message": "There is no data size 'huge': choose one of Laptop (tiny), "
            "Staging (medium), Production (large).",
        }
    }


def test_run_without_csrf_token_is_403(data: None) -> None:
    response = api_run(Client(enforce_csrf_checks=True))

    assert response.status_code == 403
