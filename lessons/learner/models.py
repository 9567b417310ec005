"""Rooms, learners and their progress, as rows of the `default` database.

Every write is a single statement or a short transaction, so requests that overlap (a learner
firing four runs at once, fifty learners answering together) each record what they did. Rows that
may exist already are inserted with ON CONFLICT DO NOTHING; counters move with F() expressions."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Room(models.Model):
    """A workshop: learners who joined it, and the instructor's switches."""

    token = models.CharField(max_length=64, unique=True)  # the instructor's secret
    editing = models.BooleanField(default=False)
    following = models.CharField(max_length=100, blank=True)  # the lesson being taught
    revealed = models.JSONField(default=list)  # "lesson:question" keys shown on the clicker
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The address learners open, as `manage.py workshop` printed it ("" before it printed one).
    address = models.CharField(max_length=300, blank=True, default="")
    # Votes on quiz questions: "lesson:question" -> {"round": 1 or 2, "open": bool}.
    polls = models.JSONField(default=dict)
    # The code the instructor last sent to every learner's playground, and when.
    sent_code = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "lessons"

    def __str__(self) -> str:
        return f"room {self.pk} from {self.started_at:%Y-%m-%d %H:%M}"


class Learner(models.Model):
    """Someone using the course from one browser: in a room with a display name, or on their own
    machine (no room, no name)."""

    room = models.ForeignKey(Room, null=True, on_delete=models.CASCADE, related_name="learners")
    name = models.CharField(max_length=40, blank=True)
    # The name as the room compares it (names.name_key): look-alike names share it.
    name_key = models.CharField(max_length=64, blank=True, default="")
    seed = models.IntegerField(default=0)  # shuffles quiz choices, fixed for the learner
    lesson = models.CharField(max_length=100, blank=True)  # the last lesson opened
    joined_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)  # last thing done, for "idle"
    left_at = models.DateTimeField(null=True, blank=True)
    # Ask for a prediction before a lesson snippet's first run: None follows the default (on in
    # a room, off on one's own machine).
    predict = models.BooleanField(null=True, default=None)

    class Meta:
        app_label = "lessons"
        constraints = [
            # "Ana" and "ana" are one name in a room (learners without a room have NULL there,
            # and NULLs never clash).
            models.UniqueConstraint("room", Lower("name"), name="one_name_per_room"),
            # Nor two that look the same on the console ("Anna", and "Anna" with a Cyrillic A).
            models.UniqueConstraint("room", "name_key", name="one_look_per_room"),
        ]

    def __str__(self) -> str:
        return self.name or f"learner {self.pk}"


class Opened(models.Model):
    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="opened")
    lesson = models.CharField(max_length=100)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "lessons"
        constraints = [models.UniqueConstraint("learner", "lesson", name="opened_once")]

    def __str__(self) -> str:
        return f"{self.learner_id} opened {self.lesson}"


class Ran(models.Model):
    """A snippet of a lesson the learner ran as the lesson wrote it."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="ran")
    lesson = models.CharField(max_length=100)
    snippet = models.CharField(max_length=100)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "lessons"
        constraints = [models.UniqueConstraint("learner", "lesson", "snippet", name="ran_once")]

    def __str__(self) -> str:
        return f"{self.learner_id} ran {self.lesson} {self.snippet}"


class Answer(models.Model):
    """The learner's first answer to a question (the one the score counts), the latest (the one
    the form shows), and how many tries it took."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="answers")
    quiz = models.CharField(max_length=100)  # a lesson slug, or "exam"
    question = models.CharField(max_length=100)
    choice = models.PositiveSmallIntegerField()  # the latest; original index, before shuffling
    first_choice = models.PositiveSmallIntegerField()  # the one scored: retries teach, not score
    correct = models.BooleanField()
    attempts = models.PositiveIntegerField(default=1)
    wrong = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "lessons"
        constraints = [
            models.UniqueConstraint("learner", "quiz", "question", name="one_answer_per_question")
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} answered {self.question}: {self.choice}"


class Check(models.Model):
    """One check of an exercise answer; `failure` says why it failed ("" when it passed)."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="checks")
    exercise = models.CharField(max_length=200)
    passed = models.BooleanField()
    failure = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "lessons"
        indexes = [models.Index("learner", "exercise", name="check_by_learner")]

    def __str__(self) -> str:
        outcome = "passed" if self.passed else self.failure
        return f"{self.learner_id} checked {self.exercise}: {outcome}"


class Reveal(models.Model):
    """The learner asked to see an exercise's solution."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="reveals")
    exercise = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "lessons"
        constraints = [models.UniqueConstraint("learner", "exercise", name="revealed_once")]

    def __str__(self) -> str:
        return f"{self.learner_id} revealed {self.exercise}"


class Prediction(models.Model):
    """How many queries the learner said a lesson snippet would send on a dataset, before its
    first run there, and how many it sent. The first prediction is the one kept."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="predictions")
    lesson = models.CharField(max_length=100)
    snippet = models.CharField(max_length=100)
    dataset = models.CharField(max_length=20)
    guess = models.PositiveIntegerField()  # what the answer came to on the dataset
    said = models.CharField(max_length=80, blank=True)  # a formula as typed ("1 + posts")
    actual = models.PositiveIntegerField(null=True)  # the measured count, once the run answered
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "lessons"
        constraints = [
            models.UniqueConstraint(
                "learner", "lesson", "snippet", "dataset", name="one_prediction_per_run"
            )
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} predicted {self.guess} for {self.lesson} {self.snippet}"


class Vote(models.Model):
    """A learner's choice in one round of the room's vote on a quiz question (vote, discuss,
    vote again); a changed mind within a round replaces the choice."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="votes")
    quiz = models.CharField(max_length=100)
    question = models.CharField(max_length=100)
    round = models.PositiveSmallIntegerField()
    choice = models.PositiveSmallIntegerField()  # original index, before shuffling
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "lessons"
        constraints = [
            models.UniqueConstraint(
                "learner", "quiz", "question", "round", name="one_vote_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} voted {self.choice} on {self.question} ({self.round})"


class Review(models.Model):
    """Where a quiz question stands in the learner's review schedule (Leitner boxes): a wrong
    answer puts it in box 1, due at once; a right one moves it up a box, due later."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="reviews")
    quiz = models.CharField(max_length=100)
    question = models.CharField(max_length=100)
    box = models.PositiveSmallIntegerField(default=1)
    due_at = models.DateTimeField(default=timezone.now)
    seen = models.PositiveIntegerField(default=1)  # how many times it was answered
    at = models.DateTimeField(default=timezone.now)  # the last answer
    choice = models.PositiveSmallIntegerField(default=0)  # the last answer's original index

    class Meta:
        app_label = "lessons"
        constraints = [
            models.UniqueConstraint("learner", "quiz", "question", name="one_review_per_question")
        ]
        indexes = [models.Index("learner", "due_at", name="review_due")]

    def __str__(self) -> str:
        return f"{self.learner_id} box {self.box} for {self.question}"


class HelpRequest(models.Model):
    """A learner's "I'm stuck" on a card or an exercise: the code they had and the last result,
    queued for the instructor, who opens it and marks it done."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="help_requests")
    lesson = models.CharField(max_length=100)
    place = models.CharField(max_length=200)  # the snippet or exercise id
    code = models.TextField(blank=True)
    result = models.CharField(max_length=300, blank=True)  # the last result or check verdict
    shareable = models.BooleanField(default=False)  # the learner lets it be sent to the room
    asked_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "lessons"
        indexes = [models.Index("done_at", "asked_at", name="help_queue")]

    def __str__(self) -> str:
        return f"{self.learner_id} stuck on {self.place}"
