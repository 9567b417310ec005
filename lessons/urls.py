from __future__ import annotations

from django.urls import path

from lessons import api, views

app_name = "lessons"
urlpatterns = [
    path("", views.outline, name="outline"),
    path("lessons/<slug:slug>/", views.lesson_detail, name="detail"),
    path("lessons/<slug:slug>/run/", views.run, name="run"),
    path("api/lessons/", api.lesson_list, name="api-lessons"),
    path("api/datasets/", api.dataset_list, name="api-datasets"),
    path(
        "api/lessons/<slug:slug>/snippets/<str:snippet_id>/run/",
        api.run,
        name="api-run",
    ),
]
