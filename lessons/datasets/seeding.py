"""Build the deterministic datasets: a fixed Faker seed, explicit primary keys, bulk inserts."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import F, Model
from django.db.models.functions import Coalesce
from django.utils.text import slugify
from faker import Faker

from blog.models import COUNTED, Author, Category, Comment, Post, Profile, SeedInfo, Tag
from lessons import datasets
from lessons.datasets import pgguard

Progress = Callable[[str, int, int], None]

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORY_NAMES = [
    "Django", "Databases", "Performance", "Testing", "Python", "Async",
    "Security", "Deployment", "Frontend", "Career",
]  # fmt: skip
TAG_NAMES = [
    "orm", "sql", "sqlite", "postgresql", "indexes", "caching", "htmx", "migrations",
    "admin", "forms", "signals", "celery", "pytest", "profiling", "queries", "joins",
    "transactions", "async", "templates", "api", "security", "deployment", "docker",
    "typing", "packaging", "debugging", "memory", "search", "pagination", "refactoring",
]  # fmt: skip
COMMENTER_POOL = 400
CHUNK = 2000


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def is_seeded(name: str) -> bool:
    try:
        datasets.stats(name)
    except datasets.DatasetMissing:
        return False
    return True


def seed(name: str, *, force: bool = False, progress: Progress = _no_progress) -> bool:
    """Create dataset `name` unless it is already there. Returns True if it (re)built it.

    The datasets are read-only outside seeding: callers wrap this in
    lessons.datasets.guards.writable(). DatasetBroken if the database cannot be read."""
    spec = datasets.get_spec(name)
    call_command("migrate", "blog", database=name, verbosity=0)
    if connections[name].vendor == "postgresql":
        pgguard.protect(name, settings.COURSE_PG_RUNNER)
    if not force and is_seeded(name):
        return False
    # One transaction: an interrupted seed leaves no half-built dataset behind.
    with datasets.use_dataset(name), transaction.atomic(using=name):
        _clear(name)
        with _indexes_after_rows(name):
            _build(spec, progress)
        SeedInfo.objects.create(
            name=spec.name,
            version=datasets.SEED_VERSION,
            counts=_count(name),
            checksum=datasets.checksum(name),
        )
        if connections[name].vendor == "postgresql":
            pgguard.reset_sequences(name)
            pgguard.search_index(name)
            with connections[name].cursor() as cursor:
                # The planner's statistics, for the plans lessons claim. A target this high
                # samples every row of every table (300 x target rows), so the statistics, and
                # with them the plans, come out the same on every seed.
                cursor.execute("SET LOCAL default_statistics_target = 1000")
                cursor.execute("ANALYZE")
    return True


@contextlib.contextmanager
def _indexes_after_rows(name: str) -> Iterator[None]:
    """The lessons' own indexes (Meta.indexes) dropped while the rows go in and built once after
    them: one sorted build per index instead of an update per row, on both engines alike. Their
    SQL is run by hand: a schema editor cannot open inside the seed's transaction on SQLite."""
    connection = connections[name]
    editor = connection.schema_editor()
    indexes = [(model, index) for model in COUNTED.values() for index in model._meta.indexes]
    with connection.cursor() as cursor:
        for _model, index in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(index.name)}")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # no index built on rows with FK checks pending
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for model, index in indexes:
            cursor.execute(str(index.create_sql(model, editor)))


def _clear(name: str) -> None:
    models: list[type[Model]] = [
        Post.tags.through, Comment, Post, Profile, Author, Tag, Category, SeedInfo,
    ]  # fmt: skip
    with connections[name].cursor() as cursor:
        for model in models:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")  # our own table names


def _count(name: str) -> dict[str, int]:
    return {key: model._default_manager.using(name).count() for key, model in COUNTED.items()}


def _build(spec: datasets.DatasetSpec, progress: Progress) -> None:
    fake = Faker("en_US")
    fake.seed_instance(spec.seed)
    rng = random.Random(spec.seed)

    categories = [
        Category(id=i, name=n, slug=slugify(n))
        for i, n in enumerate(CATEGORY_NAMES[: spec.categories], 1)
    ]
    tags = [Tag(id=i, name=n, slug=slugify(n)) for i, n in enumerate(TAG_NAMES[: spec.tags], 1)]
    Category.objects.bulk_create(categories)
    Tag.objects.bulk_create(tags)

    authors = []
    profiles = []
    for i in range(1, spec.authors + 1):
        name = fake.name()
        joined = EPOCH - timedelta(days=rng.randint(400, 3000))
        authors.append(
            Author(id=i, name=name, email=f"{slugify(name)}.{i}@example.com", joined_at=joined)
        )
        profiles.append(
            Profile(
                id=i,
                author_id=i,
                bio=fake.paragraph(nb_sentences=2),
                website=f"https://{slugify(name)}.example.com",
                location=fake.city(),
            )
        )
    Author.objects.bulk_create(authors)
    Profile.objects.bulk_create(profiles)
    progress("authors", spec.authors, spec.authors)

    commenters = [fake.name() for _ in range(COMMENTER_POOL)]
    statuses = [Post.Status.PUBLISHED] * 7 + [Post.Status.DRAFT] * 2 + [Post.Status.ARCHIVED]
    posts: list[Post] = []
    post_tags: list[Model] = []
    comments: list[Comment] = []
    comment_id = post_tag_id = 0
    # No two posts, and no two comments, share a created_at: the default orderings are total, so a
    # LIMIT gives the same rows on every engine and every plan.
    post_times, comment_times = _Distinct(), _Distinct()
    for pid in range(1, spec.posts + 1):
        title = fake.sentence(nb_words=rng.randint(3, 7)).rstrip(".")
        created = post_times(EPOCH - timedelta(minutes=rng.randint(0, 60 * 24 * 365 * 3)))
        status = rng.choice(statuses)
        published = created + timedelta(hours=rng.randint(1, 72)) if status != "draft" else None
        posts.append(
            Post(
                id=pid,
                title=title,
                slug=slugify(title)[:200],
                author_id=rng.randint(1, spec.authors),
                category_id=rng.randint(1, spec.categories) if rng.random() > 0.05 else None,
                body="\n\n".join(fake.paragraphs(nb=rng.randint(1, 6))),
                status=status,
                created_at=created,
                published_at=published,
                view_count=rng.randint(0, 2000),
                like_count=rng.randint(0, 300),
            )
        )
        for tag_id in rng.sample(range(1, spec.tags + 1), k=rng.randint(0, min(4, spec.tags))):
            post_tag_id += 1
            post_tags.append(Post.tags.through(id=post_tag_id, post_id=pid, tag_id=tag_id))
        for _ in range(rng.randint(0, 2 * spec.comments_per_post)):
            comment_id += 1
            comments.append(
                Comment(
                    id=comment_id,
                    post_id=pid,
                    author_name=rng.choice(commenters),
                    body=fake.sentence(nb_words=rng.randint(5, 25)),
                    created_at=comment_times(
                        created + timedelta(minutes=rng.randint(5, 60 * 24 * 60))
                    ),
                    approved=rng.random() > 0.1,
                )
            )
        if len(posts) >= CHUNK or pid == spec.posts:
            _flush(posts, post_tags, comments)
            progress("posts", pid, spec.posts)
    # auto_now stamped "now" during the inserts; keep the data deterministic instead.
    Post.objects.update(updated_at=Coalesce(F("published_at"), F("created_at")))


class _Distinct:
    """Moves a timestamp on by a second until no earlier call returned it."""

    def __init__(self) -> None:
        self.taken: set[datetime] = set()

    def __call__(self, moment: datetime) -> datetime:
        while moment in self.taken:
            moment += timedelta(seconds=1)
        self.taken.add(moment)
        return moment


def _flush(posts: list[Post], post_tags: list[Model], comments: list[Comment]) -> None:
    Post.objects.bulk_create(posts)
    Post.tags.through.objects.bulk_create(post_tags)  # type: ignore[arg-type]
    Comment.objects.bulk_create(comments)
    posts.clear()
    post_tags.clear()
    comments.clear()
