from __future__ import annotations

from django.urls import path

from lessons.web import api, exercises, pages, playground, quiz, room

app_name = "lessons"
urlpatterns = [
    path("", pages.outline, name="outline"),
    path("lessons/<slug:slug>/", pages.lesson_detail, name="detail"),
    path("lessons/<slug:slug>/opened/", room.opened, name="opened"),
    path("lessons/<slug:slug>/run/", pages.run, name="run"),
    path("lessons/<slug:slug>/scale/", pages.scale, name="scale"),
    path("lessons/<slug:slug>/quiz/", quiz.answer_lesson, name="quiz-answer"),
    path("lessons/<slug:slug>/help/", room.ask_help, name="help"),
    path("lessons/<slug:slug>/exercise/check/", exercises.check_page, name="exercise-check"),
    path(
        "lessons/<slug:slug>/exercise/solution/", exercises.solution_page, name="exercise-solution"
    ),
    path("search/", pages.search, name="search"),
    path("explain/", pages.explain_query, name="explain"),
    path("runs/queue/", pages.run_queue, name="run-queue"),
    path("runs/cancel/", pages.run_cancel, name="run-cancel"),
    path("playground/", playground.playground, name="playground"),
    path("playground/run/", playground.run, name="playground-run"),
    path("predicting/", pages.set_predicting, name="predicting"),
    path("exam/", quiz.exam, name="exam"),
    path("exam/answer/", quiz.answer_exam, name="exam-answer"),
    path("review/", quiz.review_page, name="review"),
    path("review/answer/", quiz.answer_review, name="review-answer"),
    path("progress/reset/", quiz.reset_progress, name="progress-reset"),
    path("favicon.ico", pages.favicon),
    path("join/", room.join_page, name="join"),
    path("join/screen/", room.join_screen, name="join_screen"),
    path("room/leave/", room.leave_room, name="room-leave"),
    path("room/banner/", room.banner, name="room-banner"),
    path("room/help/cancel/", room.cancel_help, name="help-cancel"),
    path("api/lessons/", api.lesson_list, name="api-lessons"),
    path("api/datasets/", api.dataset_list, name="api-datasets"),
    path("api/run/", api.run_code, name="api-run-code"),
    path("api/exercises/<str:exercise_id>/check/", exercises.check_api, name="api-exercise-check"),
    path(
        "api/exercises/<str:exercise_id>/solution/",
        exercises.solution_api,
        name="api-exercise-solution",
    ),
    path(
        "api/lessons/<slug:slug>/snippets/<str:snippet_id>/run/",
        api.run,
        name="api-run",
    ),
]
