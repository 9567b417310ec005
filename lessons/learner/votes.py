"""Vote, discuss, vote again: the instructor opens a vote on a quiz question, learners answer on
their lesson page, the vote closes, the room discusses, and a second round asks again. Each
round's choices are kept apart (lessons.learner.models.Vote), so the console shows both
distributions side by side. While a round is open the learner's form keeps the right answer to
itself, so the discussion starts from what people think, not from what the page told them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from lessons.errors import CourseError
from lessons.learner.models import Learner, Room, Vote
from lessons.learner.rooms import forget_room
from lessons.learner.writes import write

ROUNDS = 2  # a first vote and one after the discussion


class VoteRefused(CourseError):
    status = 409


def key(quiz: str, question: str) -> str:
    return f"{quiz}:{question}"


@dataclass(frozen=True)
class Poll:
    round: int  # 0: no vote yet
    open: bool

    @property
    def can_open(self) -> bool:
        return not self.open and self.round < ROUNDS


NO_POLL = Poll(0, False)


def poll_of(room: Room, quiz: str, question: str) -> Poll:
    state = room.polls.get(key(quiz, question)) or {}
    return Poll(int(state.get("round", 0)), bool(state.get("open", False)))


def open_round(room: Room, quiz: str, question: str) -> Poll:
    """Open the first vote, or the second after the first closed."""
    with transaction.atomic():
        fresh = Room.objects.select_for_update().get(pk=room.pk)
        poll = poll_of(fresh, quiz, question)
        if poll.open:
            return poll
        if poll.round >= ROUNDS:
            raise VoteRefused(f"This question has had its {ROUNDS} votes.")
        polls = {**fresh.polls, key(quiz, question): {"round": poll.round + 1, "open": True}}
        Room.objects.filter(pk=room.pk).update(polls=polls)
        room.polls = polls
        forget_room()
        return Poll(poll.round + 1, True)


def close_round(room: Room, quiz: str, question: str) -> Poll:
    with transaction.atomic():
        fresh = Room.objects.select_for_update().get(pk=room.pk)
        poll = poll_of(fresh, quiz, question)
        polls = {**fresh.polls, key(quiz, question): {"round": poll.round, "open": False}}
        Room.objects.filter(pk=room.pk).update(polls=polls)
        room.polls = polls
        forget_room()
        return Poll(poll.round, False)


def open_rounds(room: Room | None, quiz: str) -> dict[str, int]:
    """Question id -> the round open on it now, for one quiz of the learner's room."""
    if room is None:
        return {}
    prefix = f"{quiz}:"
    return {
        name.removeprefix(prefix): int(state["round"])
        for name, state in room.polls.items()
        if name.startswith(prefix) and state.get("open")
    }


def record_vote(learner: Learner, quiz: str, question: str, round: int, choice: int) -> None:
    """The learner's choice in the open round; a changed mind replaces it."""

    def voted() -> None:
        mine = Vote.objects.filter(learner=learner, quiz=quiz, question=question, round=round)
        if mine.update(choice=choice, at=timezone.now()):
            return
        try:
            with transaction.atomic():  # a savepoint: the same learner's other request may win
                Vote.objects.create(
                    learner=learner, quiz=quiz, question=question, round=round, choice=choice
                )
        except IntegrityError:
            mine.update(choice=choice, at=timezone.now())

    write(voted)


def distributions(room: Room, quiz: str) -> dict[tuple[str, int], Counter[int]]:
    """(question id, round) -> how many learners chose each original choice index."""
    counts: dict[tuple[str, int], Counter[int]] = {}
    rows = Vote.objects.filter(learner__room=room, quiz=quiz).values_list(
        "question", "round", "choice"
    )
    for question, round, choice in rows:
        counts.setdefault((question, round), Counter())[choice] += 1
    return counts
