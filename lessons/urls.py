from __future__ import annotations

from django.urls import path

from lessons import api, quiz_views, views

app_name = "lessons"
urlpatterns = [
    path("", views.outline, name="outline"),
    path("lessons/<slug:slug>/", views.lesson_detail, name="detail"),
    path("lessons/<slug:slug>/run/", views.run, name="run"),
    path("lessons/<slug:slug>/scale/", views.scale, name="scale"),
    path("lessons/<slug:slug>/quiz/", quiz_views.answer_lesson, name="quiz-answer"),
    path("explain/", views.explain_query, name="explain"),
    path("exam/", quiz_views.exam, name="exam"),
    path("exam/answer/", quiz_views.answer_exam, name="exam-answer"),
    path("progress/reset/", quiz_views.reset_progress, name="progress-reset"),
    path("api/lessons/", api.lesson_list, name="api-lessons"),
    path("api/datasets/", api.dataset_list, name="api-datasets"),
    path(
        "api/lessons/<slug:slug>/snippets/<str:snippet_id>/run/",
        api.run,
        name="api-run",
    ),
]
