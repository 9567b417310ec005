"""The sample domain every lesson queries: a small blog."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Length, Upper
from django.utils import timezone


class Author(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField(unique=True)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    author = models.OneToOneField(Author, on_delete=models.CASCADE, related_name="profile")
    bio = models.TextField(blank=True)
    website = models.URLField(blank=True)
    location = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"Profile of {self.author_id}"


class Category(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)
    slug = models.SlugField(unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PostQuerySet(models.QuerySet["Post"]):
    def published(self) -> PostQuerySet:
        return self.filter(status=Post.Status.PUBLISHED)


class Post(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="posts")
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="posts"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="posts")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # default= fills the field in Python; db_default= is the column's own DEFAULT, used by rows
    # the ORM does not write (lessons/content/races.md).
    view_count = models.PositiveIntegerField(default=0, db_default=0)
    like_count = models.PositiveIntegerField(default=0)
    # Computed and stored by the database itself: filterable and indexable like any column.
    body_length = models.GeneratedField(
        expression=Length("body"), output_field=models.IntegerField(), db_persist=True
    )

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        # The indexes the lessons on one query's cost look up (lessons/content/indexes.md). Columns
        # left out on purpose, to compare with: title, published_at alone, view_count, like_count.
        indexes = [
            models.Index(fields=["created_at"], name="blog_post_created_idx"),
            models.Index(fields=["status", "published_at"], name="blog_post_status_pub_idx"),
            models.Index(Upper("title"), name="blog_post_title_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author_name = models.CharField(max_length=100)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    approved = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at"]
        # Left out on purpose: author_name and approved alone.
        indexes = [
            models.Index(fields=["post", "created_at"], name="blog_comment_post_created_idx"),
            models.Index(fields=["created_at"], name="blog_comment_created_idx"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(approved=False),
                name="blog_comment_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.author_name} on {self.post_id}"


class SeedInfo(models.Model):
    """One row per dataset database: proof that seeding finished, and its row counts."""

    name = models.CharField(max_length=20, unique=True)
    version = models.PositiveIntegerField()
    counts = models.JSONField()
    # A digest of every row (lessons.datasets.checksum): what is kept per dataset content, such as
    # the exercises' reference outputs, is kept under it.
    checksum = models.CharField(max_length=64, default="")
    seeded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


# Every row count a dataset records when it is seeded, by the name lesson `expect` expressions use.
COUNTED: dict[str, type[models.Model]] = {
    "authors": Author,
    "profiles": Profile,
    "categories": Category,
    "tags": Tag,
    "posts": Post,
    "comments": Comment,
    "post_tags": Post.tags.through,
}
