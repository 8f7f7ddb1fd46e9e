"""At shutdown every caller gets an answer and the process never aborts: the node as users run
it (a child process), a planner over real DDS, SIGINT while a long prefill runs and a full queue
of asks is still arriving.

The running ask is a 16k-character question of 49k tokens, a prefill no cancellation reaches
(about 20 s on 2 cores; the checkpoint's context is raised so that it is not refused). Each ask
is answered, with a decision or "node is stopping", the ones still in flight when the signal
came included; the process exits 0 within its grace period, with no "terminate called".
(The planner's client keeps all its requests: with the default service QoS, keep last 10, a
burst of 65 loses about 50 in the client's own writer, before any node could hear them.)
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from child import log_tail, node_process
from harness import FAST
from test_request_bounds import TOPIC, planner, with_context

from cosmos_reason_ros.core.reasoner import MAX_QUESTION_CHARS
from cosmos_reason_ros.ros.node import DRAIN_QUIET_S, STOP_GRACE_S
from cosmos_reason_ros.srv import AskNextAction

MAX_PENDING = 64


def cjk_question(chars: int) -> str:
    """``chars`` CJK characters: three byte-level tokens each for the tiny model."""
    return "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(chars))


def test_sigint_during_a_long_prefill_with_a_full_queue_answers_every_ask_and_exits_0(
    tmp_path: Path, tiny_model_dir: Path, ros_context: Any
) -> None:
    model = with_context(tiny_model_dir, tmp_path / "model", 1_000_000)
    params = {**FAST, "model": str(model), "image_topics": [TOPIC]}
    params |= {"max_pending": MAX_PENDING, "max_question_chars": MAX_QUESTION_CHARS}
    with node_process(tmp_path / "node", **params) as child, planner(ros_context) as client:
        client.first_decision()
        ask = client.ask.call_async
        futures = [ask(AskNextAction.Request(question=cjk_question(MAX_QUESTION_CHARS)))]
        time.sleep(1.0)  # taken: its prefill runs
        futures += [
            ask(AskNextAction.Request(question=f"Ask {i}: what next?")) for i in range(MAX_PENDING)
        ]
        t0 = time.monotonic()  # at once: asks are still arriving
        child.send_signal(signal.SIGINT)
        status = child.wait(timeout=60)
        exit_s = time.monotonic() - t0
        deadline = time.monotonic() + 10.0  # answers sent before the exit may still be in flight
        while not all(f.done() for f in futures) and time.monotonic() < deadline:
            time.sleep(0.05)
        missing = [i for i, f in enumerate(futures) if not f.done()]
    log = log_tail(tmp_path / "node" / "node.log", 400)
    answers = [f.result() for f in futures if f.done()]
    decided = [a for a in answers if a.success]
    stopping = [a for a in answers if not a.success and "node is stopping" in a.message]
    others = [a.message[:200] for a in answers if not a.success and a not in stopping]
    print(f"decided={len(decided)} stopping={len(stopping)} exit={status} exit_s={exit_s:.2f}")
    assert missing == [], f"{len(missing)} of {len(futures)} asks never answered"
    assert others == []
    assert not futures[0].result().success, "the long ask was cut short"
    assert status == 0, log
    assert "SIGINT: stopping" in log
    assert "terminate called" not in log and "Traceback" not in log, log
    assert exit_s < STOP_GRACE_S + DRAIN_QUIET_S + 8.0
