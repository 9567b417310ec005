"""A compact reference of the blog's models for the playground, read from the models themselves
so it can never disagree with them: each field with its type, each relation with the model at the
other end and the name to follow it by, in both directions."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import models

from blog.models import Author, Category, Comment, Post, Profile, Tag

MODELS: tuple[type[models.Model], ...] = (Author, Profile, Category, Tag, Post, Comment)


@dataclass(frozen=True)
class FieldLine:
    name: str  # what to write in code: a field, a relation's accessor
    kind: str  # e.g. "CharField(200)", "ForeignKey → Author"
    note: str = ""  # e.g. "null", "reverse of Post.author"


@dataclass(frozen=True)
class ModelReference:
    name: str
    manager: str  # e.g. "Post.objects"
    fields: tuple[FieldLine, ...]
    relations: tuple[FieldLine, ...]


@functools.cache
def blog_models() -> tuple[ModelReference, ...]:
    return tuple(_reference(model) for model in MODELS)


def _reference(model: type[models.Model]) -> ModelReference:
    fields: list[FieldLine] = []
    relations: list[FieldLine] = []
    for field in model._meta.get_fields():
        if isinstance(field, models.ForeignObjectRel):
            # The other side of someone else's ForeignKey, OneToOneField or ManyToManyField.
            other = field.related_model.__name__
            many = field.one_to_many or field.many_to_many
            relations.append(
                FieldLine(
                    str(field.get_accessor_name()),
                    f"{'many ' if many else ''}{other}",
                    f"reverse of {other}.{field.field.name}",
                )
            )
        elif field.is_relation:
            target = getattr(field.related_model, "__name__", "")
            relations.append(
                FieldLine(field.name, f"{type(field).__name__} → {target}", _notes(field))
            )
        else:
            fields.append(FieldLine(field.name, _kind(field), _notes(field)))
    return ModelReference(
        model.__name__, f"{model.__name__}.objects", tuple(fields), tuple(relations)
    )


def _kind(field: models.Field) -> str:  # type: ignore[type-arg]
    kind = type(field).__name__  # EmailField, not the CharField it is stored as
    if isinstance(field, models.GeneratedField):
        return f"{kind} → {type(field.output_field).__name__}, computed by the database"
    if field.max_length and isinstance(field, models.CharField):
        return f"{kind}({field.max_length})"
    return kind


def _notes(field: models.Field) -> str:  # type: ignore[type-arg]
    notes = []
    if field.primary_key:
        notes.append("primary key")
    if getattr(field, "null", False):
        notes.append("null")
    if field.choices:
        notes.append("choices: " + ", ".join(str(value) for value, _ in field.choices))
    return ", ".join(notes)
