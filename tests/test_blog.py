"""The blog's own pages keep the query counts they promise (to catch an accidental N+1 in the
optimized pages, and to keep the naive page naive)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from lessons import datasets
from lessons.web.blog_pages import PROMISES
from tests.conftest import queries_on_every_database, total

PAGES = [("blog:post-list", "naive"), ("blog:post-list-optimized", "optimized")]


@pytest.mark.parametrize(("url_name", "kind"), PAGES)
def test_post_list_sends_the_promised_queries(
    client: Client, dataset: str, url_name: str, kind: str
) -> None:
    counts = datasets.stats(dataset).counts

    with queries_on_every_database() as captured:
        response = client.get(reverse(url_name), {"dataset": dataset})

    assert response.status_code == 200
    # The page reads the dataset's seed info once, then the queries it promises.
    assert len(captured[dataset].captured_queries) == 1 + PROMISES[kind](counts)
    assert total(captured) == len(captured[dataset].captured_queries)


def test_naive_and_optimized_lists_show_the_same_rows(client: Client, data: None) -> None:
    naive = client.get(reverse("blog:post-list"), {"dataset": "medium"}).context["posts"]
    optimized = client.get(reverse("blog:post-list-optimized"), {"dataset": "medium"})

    with datasets.use_dataset("medium"):
        rows = [(p.pk, p.comments.count()) for p in naive]
    assert len(rows) == min(100, datasets.stats("medium").counts["posts"])
    assert rows == [(p.pk, p.comment_total) for p in optimized.context["posts"]]


def test_post_detail_sends_the_promised_queries(client: Client, dataset: str) -> None:
    counts = datasets.stats(dataset).counts

    with queries_on_every_database() as captured:
        response = client.get(reverse("blog:post-detail", args=[1]), {"dataset": dataset})

    assert response.status_code == 200
    assert len(captured[dataset].captured_queries) == 1 + PROMISES["detail"](counts)


def test_post_detail_of_a_missing_post_is_404(client: Client, data: None) -> None:
    response = client.get(reverse("blog:post-detail", args=[10**9]), {"dataset": "tiny"})

    assert response.status_code == 404


def test_blog_page_with_unknown_dataset_is_400(client: Client, data: None) -> None:
    response = client.get(reverse("blog:post-list"), {"dataset": "huge"})

    assert response.status_code == 400
