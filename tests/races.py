"""Races with real commits: the same work started in several threads at one instant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def at_once(app: Any, n: int, work: Callable[[], T], timeout: float = 60) -> list[T]:
    """Run `work` in n threads, each in its own app context, released together by a barrier.

    Returns what each returned (in no particular order); re-raises the first error any raised,
    and fails when a thread has not finished within `timeout` seconds.
    """
    barrier = threading.Barrier(n)
    results: list[T] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with app.app_context():
                barrier.wait()
                results.append(work())
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), f"a thread was still running after {timeout} s"
    return results
