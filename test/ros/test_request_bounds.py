"""No request can wedge the node: the node as users run it (a child process), driven over real
DDS by a camera and a planner in this process.

A live parameter cannot lift the question cap past its ceiling, and a question within the caps
whose prompt is past the model's context is refused before any prefill, with the reason, while
the next ask is answered as usual. The checkpoint is the tiny model with a 4096-token context
(its ``config.json`` says so), so a 16k-character question is past it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from child import log_tail, node_process
from harness import FAST, streaming_frames
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from spin import spinning, wait_for

from cosmos_reason_ros.core.reasoner import MAX_QUESTION_CHARS
from cosmos_reason_ros.srv import AskNextAction

TOPIC = "/camera/image_raw"
CONTEXT = 4096


class Planner(Node):
    """Asks the node and sets its parameters, as a planner on the same domain would."""

    def __init__(self, context: Any) -> None:
        super().__init__("test_planner", context=context)
        # KEEP_ALL: the default service QoS (keep last 10) drops requests of a burst before
        # they leave this process, where no node could answer them.
        keep_all = QoSProfile(
            history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE, depth=1
        )
        self.ask = self.create_client(AskNextAction, "/cosmos_reason/ask", qos_profile=keep_all)
        self.params = self.create_client(SetParameters, "/cosmos_reason/set_parameters")
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.camera = self.create_publisher(Image, TOPIC, qos)

    def call(self, question: str = "", timeout_s: float = 120.0) -> Any:
        future = self.ask.call_async(AskNextAction.Request(question=question))
        wait_for(future.done, timeout_s, what="the ask response")
        return future.result()

    def set(self, name: str, value: Any) -> Any:
        change = Parameter(name, value=value).to_parameter_msg()
        future = self.params.call_async(SetParameters.Request(parameters=[change]))
        wait_for(future.done, 30, what=f"the answer to setting {name}")
        return future.result().results[0]

    def first_decision(self, timeout_s: float = 180.0) -> Any:
        """Ask until the node, loading and then receiving frames, answers with a decision."""
        assert self.ask.wait_for_service(timeout_sec=timeout_s)
        deadline = time.monotonic() + timeout_s
        while not (answer := self.call()).success:
            assert time.monotonic() < deadline, answer.message
            time.sleep(0.5)
        return answer


@contextmanager
def planner(context: Any) -> Iterator[Planner]:
    node = Planner(context)
    with spinning(context, node, threads=2), streaming_frames(node.camera, 10.0, (160, 120)):
        yield node
    node.destroy_node()


def with_context(model_dir: Path, folder: Path, context: int) -> Path:
    """The checkpoint at ``model_dir`` with a context of ``context`` tokens (its config says
    so; weights and tokenizer are the same files)."""
    folder.mkdir(parents=True)
    for item in model_dir.iterdir():
        if item.name != "config.json":
            (folder / item.name).symlink_to(item)
    config = json.loads((model_dir / "config.json").read_text())
    config["text_config"]["max_position_embeddings"] = context
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def long_question(chars: int) -> str:
    words = (f"is obstacle {i} on the left or the right of the path?" for i in range(chars))
    return " ".join(words)[:chars]


def test_question_cap_has_a_ceiling_and_a_prompt_past_the_context_is_refused_before_prefill(
    tmp_path: Path, tiny_model_dir: Path, ros_context: Any
) -> None:
    model = with_context(tiny_model_dir, tmp_path / "model", CONTEXT)
    params = {**FAST, "model": str(model), "image_topics": [TOPIC]}
    with node_process(tmp_path / "node", **params) as child, planner(ros_context) as client:
        first = client.first_decision()
        raised = client.set("max_question_chars", 1_000_000)
        at_ceiling = client.set("max_question_chars", MAX_QUESTION_CHARS)
        t0 = time.monotonic()
        refused = client.call(long_question(MAX_QUESTION_CHARS))
        refused_s = time.monotonic() - t0
        after = client.call("Is the path clear?")
        assert child.poll() is None, "the node is still up"
    log = log_tail(tmp_path / "node" / "node.log", 400)
    assert first.success
    assert not raised.successful
    assert f"Max: {MAX_QUESTION_CHARS}" in raised.reason, raised.reason
    assert at_ceiling.successful, at_ceiling.reason
    assert not refused.success
    assert refused.message.startswith("bad request: the prompt is "), refused.message
    assert f"past the model's context of {CONTEXT} tokens" in refused.message
    assert len(refused.message) < 400, "the question is never echoed"
    assert refused_s < 30.0
    assert after.success and after.action.valid, after.message
    assert after.action.decision_id > first.action.decision_id
    assert "Traceback" not in log, log
