"""The blog's own pages. The post list exists twice on purpose: a naive one that fires N+1
queries and an optimized one, so learners can count them with django-debug-toolbar.

A bad `?dataset=` or an unseeded dataset raises the course's own errors, which the error
middleware answers with a message (see lessons.web.errors)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.conf import settings
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from blog.models import Comment, Post
from lessons import datasets

LIST_SIZE = 100
Loader = Callable[[], dict[str, object]]
# How many queries each page sends, from the dataset's row counts; the tests hold them to it.
PROMISES: dict[str, Callable[[Mapping[str, int]], int]] = {
    # The list, then author, tags and comment count per row.
    "naive": lambda counts: 1 + 3 * min(counts["posts"], LIST_SIZE),
    # The list with author and comment count joined in, then every tag at once.
    "optimized": lambda counts: 2,
    # The post with author, profile and category; its tags; its comments.
    "detail": lambda counts: 3,
}


def show_toolbar(request: HttpRequest) -> bool:
    """django-debug-toolbar on the blog pages only, for requests from this machine. The toolbar
    asks this for its own URLs too (a panel's content is fetched from /__debug__/ when opened)."""
    local = request.META.get("REMOTE_ADDR") in settings.INTERNAL_IPS
    return settings.DEBUG and local and request.path.startswith(("/blog/", "/__debug__/"))


def _render(request: HttpRequest, template: str, kind: str, load: Loader) -> HttpResponse:
    """Render a blog page on the dataset named by ?dataset=, promising PROMISES[kind] queries."""
    dataset = datasets.DatasetRef.from_request(request, engine=False)
    with datasets.use_dataset(dataset.alias):
        stats = dataset.stats()
        context = {
            **load(),
            "kind": kind,
            "dataset": stats.name,
            "stats": stats,
            "datasets": datasets.SPECS.values(),
            "promised": PROMISES[kind](stats.counts),
        }
        # Render inside the dataset context: querysets are lazy and run in the template.
        return render(request, template, context)


@require_GET
def post_list(request: HttpRequest) -> HttpResponse:
    # Naive on purpose: each row's author, tags and comment count cost a query apiece.
    return _render(
        request,
        "blog/post_list.html",
        "naive",
        lambda: {"posts": Post.objects.order_by("-created_at")[:LIST_SIZE]},
    )


@require_GET
def post_list_optimized(request: HttpRequest) -> HttpResponse:
    posts = (
        Post.objects.select_related("author")
        .annotate(comment_total=Count("comments"))
        .prefetch_related("tags")
        # Django leaves Meta.ordering out of GROUP BY queries, so say it explicitly.
        .order_by("-created_at")[:LIST_SIZE]
    )
    return _render(request, "blog/post_list.html", "optimized", lambda: {"posts": posts})


@require_GET
def post_detail(request: HttpRequest, pk: int) -> HttpResponse:
    def load() -> dict[str, object]:
        approved = Comment.objects.filter(approved=True)
        posts = Post.objects.select_related("author__profile", "category").prefetch_related(
            "tags", Prefetch("comments", queryset=approved, to_attr="approved_comments")
        )
        try:
            return {"post": posts.get(pk=pk)}
        except Post.DoesNotExist:
            raise Http404(f"There is no post {pk} in this dataset.") from None

    return _render(request, "blog/post_detail.html", "detail", load)
