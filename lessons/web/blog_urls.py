"""The blog's own pages, under /blog/ (the namespace keeps its name: `blog:post-list`)."""

from __future__ import annotations

from django.urls import path

from lessons.web import blog_pages

app_name = "blog"
urlpatterns = [
    path("", blog_pages.post_list, name="post-list"),
    path("optimized/", blog_pages.post_list_optimized, name="post-list-optimized"),
    path("posts/<int:pk>/", blog_pages.post_detail, name="post-detail"),
]
