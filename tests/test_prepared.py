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


def test_a_prepared_lookups_rows_carry_every_field_and_annotation_as_the_querysets_do() -> None:
    from django.db.models import Value

    room = Room.objects.create(token="a")
    Learner.objects.create(room=room, name="Ana", name_key="ana")
    shape = Prepared(Learner, lambda pk: Learner.objects.filter(room=pk).annotate(mark=Value(7)), 1)

    (prepared,) = shape.all(room.pk)
    (queried,) = Learner.objects.filter(room=room).annotate(mark=Value(7))
    fields = [field.attname for field in Learner._meta.concrete_fields] + ["mark"]
    assert [getattr(prepared, name) for name in fields] == [
        getattr(queried, name) for name in fields
    ]
    assert prepared._state.adding is False and prepared._state.db == queried._state.db


def test_a_prepared_lookup_refuses_select_related() -> None:
    shape = Prepared(Learner, lambda pk: Learner.objects.select_related("room").filter(pk=pk), 1)

    with pytest.raises(ValueError, match="select_related"):
        shape.first(1)
