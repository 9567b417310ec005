"""Lookups compiled once and run with new values answer as their QuerySets do."""

from __future__ import annotations

import pytest

from lessons.learner.models import Learner, Room
from lessons.learner.prepared import Prepared

pytestmark = pytest.mark.django_db

BY_ROOM = Prepared(Learner, lambda room: Learner.objects.filter(room=room).order_by("name"), 1)


def test_a_prepared_lookup_answers_each_value_as_its_queryset_does() -> None:
    first, second = Room.objects.create(token="a"), Room.objects.create(token="b")
    for room, names in ((first, ["Cy", "Ana"]), (second, ["Ben"])):
        for name in names:
            Learner.objects.create(room=room, name=name, name_key=name.lower())

    for room in (first, second):
        assert BY_ROOM.all(room.pk) == list(Learner.objects.filter(room=room).order_by("name"))


def test_a_prepared_lookup_with_nothing_to_find_is_none() -> None:
    assert BY_ROOM.first(10**9) is None


def test_a_prepared_lookup_takes_only_integers() -> None:
    with pytest.raises(TypeError):
        BY_ROOM.first("1 OR 1=1")  # type: ignore[arg-type]
