from __future__ import annotations

from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "blog"
    verbose_name = "Blog (the course's sample data)"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from blog.datasets import protect_new_connection

        connection_created.connect(protect_new_connection, dispatch_uid="course-read-only-datasets")
