"""The hidden check dataset: seeded like the others, differently, and never offered."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connections
from django.test import Client
from django.urls import reverse

from lessons import datasets


def test_check_dataset_is_seeded_with_sizes_of_its_own(data: None) -> None:
    counts = datasets.stats("check").counts

    assert counts["posts"] == datasets.CHECK.posts
    assert counts["posts"] not in {spec.posts for spec in datasets.SPECS.values()}


def test_check_dataset_is_not_listed_by_the_api(client: Client, data: None) -> None:
    names = [d["name"] for d in client.get(reverse("lessons:api-datasets")).json()["datasets"]]

    assert "check" not in names


def test_check_dataset_cannot_be_chosen_on_a_page(client: Client, data: None) -> None:
    response = client.get(reverse("lessons:detail", args=["n-plus-one"]), {"dataset": "check"})

    assert response.status_code == 400


def test_check_dataset_is_read_only_like_the_others(data: None) -> None:
    # SQLite's query_only (OperationalError), or PostgreSQL's refusal to commit it
    # (lessons.datasets.pgguard).
    with pytest.raises(DatabaseError), connections["check"].cursor() as cursor:
        cursor.execute("DELETE FROM blog_comment")
