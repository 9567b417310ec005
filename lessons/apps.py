from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = "Lessons"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from lessons.datasets.guards import protect_new_connection

        checks.register(check_lesson_files)
        connection_created.connect(protect_new_connection, dispatch_uid="course-read-only-datasets")


def check_lesson_files(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Parse every lesson at start-up (runserver, migrate, tests) so a broken file fails loudly."""
    from lessons.catalog import LessonError, get_catalog

    try:
        get_catalog()
    except LessonError as exc:
        return [checks.Error(str(exc), hint="Fix the lesson file.", id="lessons.E001")]
    return []
