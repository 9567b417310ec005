from __future__ import annotations

from django.urls import path

from lessons.web import console, presenter

app_name = "console"
urlpatterns = [
    # No token in these two: the presenter view is projected, address bar and all. They answer
    # the browser that opened the console (its session is marked as the instructor's).
    path("", presenter.home, name="home"),
    path("present/<slug:slug>/<int:number>/", presenter.present, name="present"),
    path("<str:token>/", console.console, name="console"),
    path("<str:token>/learners/", console.learners, name="learners"),
    path("<str:token>/clicker/", console.clicker_view, name="clicker"),
    path("<str:token>/stuck/", console.stuck, name="stuck"),
    path("<str:token>/follow/", console.follow, name="follow"),
    path("<str:token>/reveal/", console.reveal, name="reveal"),
    path("<str:token>/vote/", console.vote, name="vote"),
    path("<str:token>/help/", console.help_view, name="help"),
    path("<str:token>/help/answer/", console.help_request, name="help-request"),
    path("<str:token>/send/", console.send_code, name="send"),
    path("<str:token>/predictions/", console.predictions_view, name="predictions"),
    path("<str:token>/predictions/reveal/", console.reveal_count, name="reveal-count"),
    path("<str:token>/editing/", console.editing, name="editing"),
    path("<str:token>/reset/", console.reset, name="reset"),
    path("<str:token>/end/", console.end, name="end"),
    path("<str:token>/export.csv", console.export, name="export"),
    # The presenter's address as it was (bookmarks, notes): marks the session, then the above.
    path(
        "<str:token>/present/<slug:slug>/<int:number>/",
        presenter.present_with_token,
        name="present-with-token",
    ),
]
