"""DatasetRef: a data size on an engine, as pages, runs and links name a dataset."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.conf import settings
from django.test import RequestFactory

from lessons import datasets
from lessons.datasets import DatasetRef, UnknownDataset, UnknownEngine

PRIMARY = datasets.ENGINES[0]


def test_on_the_primary_engine_the_alias_is_the_size() -> None:
    assert DatasetRef("medium").alias == "medium"
    assert DatasetRef("medium", PRIMARY) == DatasetRef("medium")


@pytest.mark.skipif(len(datasets.ENGINES) < 2, reason="PostgreSQL is not configured")
def test_on_the_other_engine_the_alias_names_the_engine() -> None:
    other = datasets.ENGINES[1]

    assert DatasetRef("tiny", other).alias == f"tiny_{other}"


def test_a_size_or_an_engine_the_server_lacks_is_refused_with_400() -> None:
    with pytest.raises(UnknownDataset) as size:
        DatasetRef("huge")
    with pytest.raises(UnknownEngine) as engine:
        DatasetRef("tiny", "oracle")

    assert size.value.status == engine.value.status == 400
    assert "There is no data size 'huge'" in size.value.message


def test_the_hidden_check_dataset_is_no_size_a_page_may_name() -> None:
    with pytest.raises(UnknownDataset):
        DatasetRef(datasets.CHECK.name)


def test_naming_nothing_is_the_default_size_on_the_primary_engine() -> None:
    default = DatasetRef(settings.COURSE_DEFAULT_DATASET, PRIMARY)

    assert DatasetRef.named() == DatasetRef.named("", "") == default


def test_a_request_names_it_posted_or_in_the_query_string() -> None:
    factory = RequestFactory()

    posted = factory.post("/?dataset=tiny", {"dataset": "large", "engine": PRIMARY})
    asked = factory.get("/", {"dataset": "medium"})

    assert DatasetRef.from_request(posted) == DatasetRef("large")
    assert DatasetRef.from_request(asked) == DatasetRef("medium")


def test_a_page_without_an_engine_switch_ignores_the_engine_asked_for() -> None:
    request = RequestFactory().get("/", {"dataset": "tiny", "engine": "oracle"})

    with pytest.raises(UnknownEngine):
        DatasetRef.from_request(request)
    assert DatasetRef.from_request(request, engine=False) == DatasetRef("tiny")


def test_a_link_carries_the_size_and_leaves_the_primary_engine_out() -> None:
    assert (
        DatasetRef("large").in_url("/lessons/n-plus-one/") == "/lessons/n-plus-one/?dataset=large"
    )
    assert DatasetRef("tiny").in_url("/exam/?x=1") == "/exam/?x=1&dataset=tiny"


@pytest.mark.skipif(len(datasets.ENGINES) < 2, reason="PostgreSQL is not configured")
def test_a_link_carries_the_other_engine() -> None:
    other = datasets.ENGINES[1]

    assert DatasetRef("tiny", other).in_url("/") == f"/?dataset=tiny&engine={other}"


def test_every_size_is_smallest_first_on_one_engine() -> None:
    refs = DatasetRef.every_size()

    assert [ref.size for ref in refs] == list(datasets.SPECS)
    assert {ref.engine for ref in refs} == {PRIMARY}


def test_its_stats_are_those_of_its_alias(data: None) -> None:
    stats = DatasetRef("medium").stats()

    assert (stats.name, stats.alias) == ("medium", "medium")
    assert stats.counts == datasets.stats("medium").counts


def test_stats_or_problem_says_why_a_dataset_cannot_be_read(
    data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DatasetRef("tiny").stats_or_problem() == (DatasetRef("tiny").stats(), "")

    monkeypatch.setattr(datasets, "SEED_VERSION", datasets.SEED_VERSION + 1)

    stats, problem = DatasetRef("tiny").stats_or_problem()
    assert stats is None
    assert "has not been seeded yet" in problem and "seed --dataset tiny" in problem


def test_stats_give_a_snippets_promised_count_on_their_data(data: None) -> None:
    from lessons.catalog import get_catalog

    snippet = get_catalog().by_slug["n-plus-one"].snippets["count-comments.bad"]
    stats = DatasetRef("medium").stats()

    assert stats.expected_count(snippet) == snippet.expected_count(stats.counts, stats.engine)
    assert stats.expected_count(snippet) == 1 + stats.counts["posts"]


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    read = datasets._read_stats
    monkeypatch.setattr(datasets, "_recent", {})
    monkeypatch.setattr(datasets, "_read_stats", lambda name: reads.append(name) or read(name))
    return reads


def test_a_seed_record_read_a_moment_ago_is_not_read_again(
    data: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.COURSE_DATASET_STATS_SECONDS = 60
    reads = count_reads(monkeypatch)

    first, second = datasets.stats("tiny"), datasets.stats("tiny")

    assert reads == ["tiny"]
    assert second == first


def test_a_seed_record_is_read_again_once_its_seconds_are_over(
    data: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.COURSE_DATASET_STATS_SECONDS = 0
    reads = count_reads(monkeypatch)

    datasets.stats("tiny"), datasets.stats("tiny")

    assert reads == ["tiny", "tiny"]


def test_while_one_thread_reads_a_seed_record_again_the_others_use_the_one_they_have(
    data: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.COURSE_DATASET_STATS_SECONDS = 0
    kept = datasets.stats("tiny")
    inside, release = threading.Event(), threading.Event()
    reads: list[str] = []
    read = datasets._read_stats

    def slow_read(name: str) -> datasets.DatasetStats:
        reads.append(name)
        inside.set()
        release.wait(5)
        return read(name)

    monkeypatch.setattr(datasets, "_read_stats", slow_read)
    reader = threading.Thread(target=datasets.stats, args=("tiny",))
    reader.start()
    inside.wait(5)
    meanwhile = datasets.stats("tiny")
    release.set()
    reader.join()

    assert meanwhile == kept
    assert reads == ["tiny"]
