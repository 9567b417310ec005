from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Model

from lessons import datasets


class DatasetRouter:
    """Blog models live in the dataset databases; everything else in `default`."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return datasets.active() if model._meta.app_label == "blog" else None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        if obj1._meta.app_label == "blog" and obj2._meta.app_label == "blog":
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        is_dataset = db in settings.COURSE_DATASET_ALIASES
        return is_dataset == (app_label == "blog")
