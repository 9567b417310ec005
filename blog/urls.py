from __future__ import annotations

from django.urls import path

from blog import views

app_name = "blog"
urlpatterns = [
    path("", views.post_list, name="post-list"),
    path("optimized/", views.post_list_optimized, name="post-list-optimized"),
    path("posts/<int:pk>/", views.post_detail, name="post-detail"),
]
