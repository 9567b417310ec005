"""Surface cues: ways to pick a quiz answer from the text alone, and how often each would win.

A cue points at one choice without any knowledge of Django: the longest choice, the shortest, or
the one that repeats the most words of the question. Where a cue points at one choice, a blind
guess is right 1 / len(choices) of the time. A cue's *excess* is the questions it gets right
minus the questions a guess would get right on the same questions. Above zero, the cue gives
answers away; below zero, it is a trap a learner can learn to strike out, which gives answers
away too. The course allows each cue an excess of at most MAX_CUE_EXCESS of all its questions,
either way (lessons.catalog.loader).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lessons.catalog.models import Question

MAX_CUE_EXCESS = 0.05

_WORD = re.compile(r"[a-z_][a-z0-9_]*|\d[\d,.]*")
# Words that carry no meaning of their own in a question and its choices ("s" is what is left
# of "'s").
_STOP_TEXT = """
    a about after again all also an and any are as at be because been before being both but by
    can could did do does doing done each either even every for from had has have having here
    how if in into is it its itself just like may might more most much must my no nor not
    now of off on once one only or other our out over own same should so some such than that the
    their them then there these they this those through to too under until up very was we were
    what when where whether which while who whom why will with without would yes yet you your s
"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())


def words(text: str) -> set[str]:
    """The distinctive words of a text, crudely stemmed ("queries", "query" and "queried" are one
    word); names such as select_related stay whole, lookups split at their double underscores."""
    found = set()
    for token in _WORD.findall(text.casefold()):
        for part in token.split("__"):
            part = part.strip("_.,")
            if part and part not in _STOP_WORDS:
                found.add(_stem(part))
    return found


def _stem(word: str) -> str:
    if word[0].isdigit() or "_" in word:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    return word.removesuffix("e") if len(word) > 3 else word


def _the_one_highest(scores: list[int]) -> int | None:
    """The index of the one highest score, or None if it is shared or zero."""
    top = max(scores)
    if top == 0 or scores.count(top) != 1:
        return None
    return scores.index(top)


def longest_choice(question: Question) -> int | None:
    """The choice longer than every other one."""
    return _the_one_highest([len(choice) for choice in question.choices])


def shortest_choice(question: Question) -> int | None:
    """The choice shorter than every other one (where distractors are padded to hide the answer's
    length, the answer becomes the short one)."""
    return _the_one_highest([-len(choice) for choice in question.choices])


def echoing_choice(question: Question) -> int | None:
    """The choice that shares the most distinctive words with the question text. Words every
    choice has (a method all of them name, "queries" in a list of counts) point nowhere, so they
    are left out."""
    choice_words = [words(choice) for choice in question.choices]
    shared_by_all = set.intersection(*choice_words)
    stem = words(question.text) - shared_by_all
    return _the_one_highest([len(stem & these) for these in choice_words])


CUES: dict[str, Callable[[Question], int | None]] = {
    "longest": longest_choice,
    "shortest": shortest_choice,
    "echo": echoing_choice,
}


@dataclass(frozen=True)
class CueScore:
    """How a cue does over a set of questions."""

    cue: str
    questions: int
    pointed: int  # questions where the cue points at one choice
    right: tuple[str, ...]  # ids of the questions where that choice is the answer
    chance: float  # how many of the `pointed` questions a blind guess would get right

    @property
    def excess(self) -> float:
        """Right answers the cue wins beyond what guessing would."""
        return len(self.right) - self.chance

    @property
    def allowed(self) -> float:
        """The largest excess, either way, the course allows over this many questions."""
        return MAX_CUE_EXCESS * self.questions

    def describe(self) -> str:
        share = len(self.right) / self.questions if self.questions else 0.0
        excess_share = self.excess / self.questions if self.questions else 0.0
        return (
            f"{self.cue}: points at one choice in {self.pointed} of {self.questions} questions "
            f"and is right in {len(self.right)} ({share:.0%} of all); guessing would be right in "
            f"{self.chance:.1f}, so the cue wins {self.excess:+.1f} ({excess_share:+.1%}; "
            f"at most {MAX_CUE_EXCESS:.0%} either way)"
        )


def cue_scores(questions: Iterable[Question]) -> list[CueScore]:
    """Each cue of CUES scored over `questions`."""
    questions = list(questions)
    scores = []
    for name, cue in CUES.items():
        picks = [(question, cue(question)) for question in questions]
        pointed = [(question, pick) for question, pick in picks if pick is not None]
        scores.append(
            CueScore(
                cue=name,
                questions=len(questions),
                pointed=len(pointed),
                right=tuple(question.id for question, pick in pointed if pick == question.answer),
                chance=sum(1 / len(question.choices) for question, _ in pointed),
            )
        )
    return scores
