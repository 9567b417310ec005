"""Progress writes of one process that come together are combined into one transaction
(lessons.learner.writes), and each asker still gets its own outcome."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections

from lessons.learner import writes
from lessons.learner.models import Learner

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="combined on SQLite only"),
]


def ask_together(works: list[Any]) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = [None] * len(works)
    start = threading.Barrier(len(works))

    def ask(index: int) -> None:
        start.wait()
        try:
            writes.write(works[index])
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_writes_asked_together_share_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    began = []
    wrapper = type(connections["default"])
    real = wrapper._start_transaction_under_autocommit

    def counted(self: Any) -> None:
        began.append(1)
        time.sleep(0.05)  # long enough for the others to ask meanwhile
        real(self)

    monkeypatch.setattr(wrapper, "_start_transaction_under_autocommit", counted)

    def make(i: int) -> Any:
        return lambda: Learner.objects.create(name=f"writer {i}", name_key=f"writer {i}")

    outcomes = ask_together([make(i) for i in range(12)])

    assert outcomes == [None] * 12
    assert Learner.objects.filter(name__startswith="writer ").count() == 12
    assert len(began) < 12


def test_a_failing_write_undoes_only_itself() -> None:
    def fail() -> None:
        Learner.objects.create(name="failing", name_key="failing")
        raise ValueError("this write fails")

    works = [
        fail,
        *(lambda i=i: Learner.objects.create(name=f"ok {i}", name_key=f"ok {i}") for i in range(5)),
    ]
    outcomes = ask_together(works)

    assert isinstance(outcomes[0], ValueError)
    assert outcomes[1:] == [None] * 5
    assert not Learner.objects.filter(name="failing").exists()
    assert Learner.objects.filter(name__startswith="ok ").count() == 5


def test_a_write_alone_runs_in_a_transaction_of_its_own() -> None:
    writes.write(lambda: Learner.objects.create(name="alone", name_key="alone"))

    assert Learner.objects.filter(name="alone").exists()
