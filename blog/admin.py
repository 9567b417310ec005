"""Read-only admin: browse the data the lessons query, without changing a dataset."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from blog.models import Author, Category, Comment, Post, Profile, Tag


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Author)
class AuthorAdmin(ReadOnlyAdmin):
    list_display = ["name", "email", "joined_at"]
    search_fields = ["name", "email"]


@admin.register(Profile)
class ProfileAdmin(ReadOnlyAdmin):
    list_display = ["author", "location", "website"]
    list_select_related = ["author"]


@admin.register(Category)
class CategoryAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug"]


@admin.register(Tag)
class TagAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug"]


@admin.register(Post)
class PostAdmin(ReadOnlyAdmin):
    list_display = ["title", "author", "category", "status", "created_at", "body_length"]
    list_filter = ["status", "category"]
    list_select_related = ["author", "category"]
    search_fields = ["title"]


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ["author_name", "post", "created_at", "approved"]
    list_filter = ["approved"]
    list_select_related = ["post"]
