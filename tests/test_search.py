"""Search across the lessons: an FTS5 index of their sections, snippets and exercises."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from lessons.catalog import get_catalog
from lessons.catalog.search import index_for

SEARCH = reverse("lessons:search")


def test_a_technique_finds_the_lesson_that_teaches_it() -> None:
    hits = index_for(get_catalog()).search("prefetch_related")

    assert hits and "prefetch" in hits[0].lesson.slug


def test_every_word_is_required_and_may_be_the_start_of_one() -> None:
    index = index_for(get_catalog())

    assert index.search("annot") and not index.search("annotate zzzyzzy")


def test_the_results_page_marks_the_matching_words(client: Client, data: None) -> None:
    page = client.get(SEARCH, {"q": "select_related"}).content.decode()

    assert "<mark>select_related</mark>" in page


def test_a_result_links_to_its_section_on_the_lesson_page(client: Client, data: None) -> None:
    page = client.get(SEARCH, {"q": "comments loop"}).content.decode()
    found = re.search(r'href="(/lessons/[^/]+/)#(section-[^"]+)"', page)
    assert found, "no result links to a section"

    lesson = client.get(found[1]).content.decode()
    assert f'id="{found[2]}"' in lesson


def test_search_syntax_in_the_query_is_taken_as_words(client: Client, data: None) -> None:
    response = client.get(SEARCH, {"q": 'NEAR( "unbalanced AND OR * :'})

    assert response.status_code == 200


def test_a_query_that_matches_nothing_says_so(client: Client, data: None) -> None:
    page = client.get(SEARCH, {"q": "xylophone"}).content.decode()

    assert "Nothing in the course matches “xylophone”." in page


def test_the_search_page_without_a_query_is_the_form(client: Client, data: None) -> None:
    page = client.get(SEARCH).content.decode()

    assert 'role="search"' in page and "search-results" not in page
