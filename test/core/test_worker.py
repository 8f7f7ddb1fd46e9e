"""The inference worker with real threads: deadlines count from submission, so a job waiting
behind a stuck one fails in time and gives its place back; closing answers every job at once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from cosmos_reason_ros.core import worker as worker_module
from cosmos_reason_ros.core.errors import GenerationCancelled, GenerationTimeout
from cosmos_reason_ros.core.worker import (
    CancelEvent,
    InferenceWorker,
    QueueFullError,
    WorkerStopped,
)


def test_a_job_waiting_past_its_deadline_fails_then_and_gives_its_place_back() -> None:
    worker = InferenceWorker(max_pending=1)
    release = threading.Event()
    stuck = worker.submit(lambda cancel: release.wait(10.0), timeout_s=10.0)
    t0 = time.monotonic()
    waiting = worker.submit(lambda cancel: "never runs", timeout_s=0.3)
    with pytest.raises(QueueFullError):
        worker.submit(lambda cancel: "no place")
    with pytest.raises(GenerationTimeout, match="waited that long behind others") as caught:
        waiting.future.result(timeout=5.0)
    waited_s = time.monotonic() - t0
    assert worker.stats().pending == 0
    later = worker.submit(lambda cancel: "ran", timeout_s=10.0)  # the place is free again
    release.set()
    assert stuck.future.result(timeout=5.0) is True
    assert later.future.result(timeout=5.0) == "ran"
    assert 0.3 <= waited_s < 2.0, waited_s
    assert "0.3 s" in str(caught.value)
    assert worker.stop(5.0)


def test_close_answers_every_job_now_refuses_new_ones_and_join_waits_for_the_running_one() -> None:
    worker = InferenceWorker(max_pending=4)
    release, started = threading.Event(), threading.Event()

    def run(cancel: threading.Event) -> bool:
        started.set()
        return release.wait(10.0)

    running = worker.submit(run)
    queued = [worker.submit(lambda cancel: "queued") for _ in range(4)]
    assert started.wait(10.0), "the worker never started the first job"
    worker.close()
    for job in (running, *queued):
        with pytest.raises(GenerationCancelled, match="node is stopping"):
            job.future.result(timeout=1.0)
    with pytest.raises(WorkerStopped, match="node is stopping"):
        worker.submit(lambda cancel: "late")
    with pytest.raises(WorkerStopped):
        worker.reserve()
    assert not worker.join(0.2), "the running job ignores its cancel event"
    release.set()
    assert worker.join(5.0)


def test_a_result_claimed_before_its_deadline_is_delivered_and_one_claimed_after_is_not() -> None:
    """Claiming and timing out exclude each other: a caller is never told "timed out" about a
    result that is then delivered (published), and a result claimed too late is dropped."""
    worker = InferenceWorker(max_pending=2)
    claimed, publish = threading.Event(), threading.Event()

    def slow_publish(cancel: CancelEvent) -> str:
        assert cancel.claim()
        claimed.set()
        publish.wait(5.0)  # delivering takes longer than the deadline left
        return "published"

    job = worker.submit(slow_publish, timeout_s=0.2)
    assert claimed.wait(5.0)
    time.sleep(0.4)  # the deadline passes while the claimed result is delivered
    job.cancel()  # and a cancel after the claim does nothing
    publish.set()
    assert job.future.result(timeout=5.0) == "published"

    claims: list[bool] = []

    def late(cancel: CancelEvent) -> str:
        time.sleep(0.4)
        claims.append(cancel.claim())
        if not claims[-1]:
            raise GenerationCancelled("finished too late")
        return "published late"

    with pytest.raises(GenerationTimeout):  # the caller is told why: its deadline
        worker.submit(late, timeout_s=0.2).future.result(timeout=5.0)
    assert worker.stop(5.0)
    assert claims == [False]  # and the late result was never delivered


def test_the_deadline_settles_the_future_before_the_job_can_answer_it_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job that fails its claim and raises at once, racing a slow deadline thread (here made
    slow on purpose), is still reported as timed out: the canceller settles the future inside
    the exclusion, so the job's claim waits for it."""
    fail = worker_module._fail

    def slow_fail(future: Any, exc: BaseException) -> bool:
        if isinstance(exc, GenerationTimeout):
            time.sleep(0.2)  # the deadline thread descheduled right before it settles
        return fail(future, exc)

    monkeypatch.setattr(worker_module, "_fail", slow_fail)
    worker = InferenceWorker(max_pending=1)

    def racing(cancel: CancelEvent) -> str:
        time.sleep(0.1)  # past the deadline, while the deadline thread is settling
        if cancel.claim():
            return "published"
        raise GenerationCancelled("finished too late")

    with pytest.raises(GenerationTimeout):
        worker.submit(racing, timeout_s=0.05).future.result(timeout=5.0)
    assert worker.stop(5.0)


def test_stopping_leaves_a_claimed_result_to_settle_and_fails_the_rest() -> None:
    worker = InferenceWorker(max_pending=2)
    claimed, publish = threading.Event(), threading.Event()

    def delivering(cancel: CancelEvent) -> str:
        assert cancel.claim()
        claimed.set()
        publish.wait(5.0)
        return "published"

    running = worker.submit(delivering, timeout_s=10.0)
    waiting = worker.submit(lambda cancel: "never runs", timeout_s=10.0)
    assert claimed.wait(5.0)
    worker.close()
    with pytest.raises(GenerationCancelled):
        waiting.future.result(timeout=5.0)
    assert not running.cancel()  # a cancel after the claim is refused
    publish.set()
    assert running.future.result(timeout=5.0) == "published"
    assert worker.join(5.0)
