from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("lessons.web.urls")),
    path("blog/", include("lessons.web.blog_urls")),
    path("console/", include("lessons.web.console_urls")),
]
# The admin is for a learner's own machine; a room never serves it.
if not settings.COURSE_ROOM:
    urlpatterns.append(path("admin/", admin.site.urls))

if settings.ENABLE_DEBUG_TOOLBAR:
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()

# Django's own refusals (a malformed request, an address nothing matches, a failure) answer in
# the client's format too: JSON under /api/, a page for browsers.
handler400 = "lessons.web.errors.bad_request"
handler403 = "lessons.web.errors.permission_denied"
handler404 = "lessons.web.errors.page_not_found"
handler500 = "lessons.web.errors.server_error"
