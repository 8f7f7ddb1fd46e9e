"""Launch-time-only parameters, tried from outside as an intruder on the same ROS domain would:
a plain rclpy node with no special rights, calling the node's lifecycle and parameter services
over real DDS.

The node runs as users run it (``python -m cosmos_reason_ros.node`` with a params file) in a
child process, on the ``openai`` backend against a loopback ``ChatCompletionsServer`` (it
stands in for trtllm-serve / vLLM / NIM, which cannot run here); a second loopback server is
the intruder's, which must never hear from the node.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")
pytest.importorskip("openai", reason="the openai backend needs the openai package")

from child import log_tail, node_process
from diagnostic_msgs.msg import DiagnosticArray
from harness import frame, image_msg
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import (
    DescribeParameters,
    GetParameters,
    SetParameters,
    SetParametersAtomically,
)
from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from spin import spinning, wait_for

from cosmos_reason_ros.config import SPECS
from cosmos_reason_ros.ros.node import ReasonNode
from cosmos_reason_ros.srv import AskNextAction
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply, reason1_text

NODE = "/cosmos_reason"
KEY_ENV = "COSMOS_TEST_INTRUDER_KEY"
SECRET = "sk-intruder-test-5e4d3c2b1a-DO-NOT-LEAK"
ANSWER = reason1_text(
    {"action": "wait", "target": "", "reason": "ok", "confidence": 0.5, "parameters": {}}
)
LAUNCH_ONLY = [s.name for s in SPECS if s.launch_only]


class Intruder(Node):
    """Any participant on the domain: lifecycle, parameter and ask clients, a camera."""

    def __init__(self, context: Any) -> None:
        super().__init__("someone_else", context=context)
        self.change = self.create_client(ChangeState, f"{NODE}/change_state")
        self.get_state = self.create_client(GetState, f"{NODE}/get_state")
        self.set = self.create_client(SetParameters, f"{NODE}/set_parameters")
        self.set_atomically = self.create_client(
            SetParametersAtomically, f"{NODE}/set_parameters_atomically"
        )
        self.get = self.create_client(GetParameters, f"{NODE}/get_parameters")
        self.describe = self.create_client(DescribeParameters, f"{NODE}/describe_parameters")
        self.ask = self.create_client(AskNextAction, f"{NODE}/ask")
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.camera = self.create_publisher(Image, "/camera/image_raw", qos)
        self.diagnostics: list[DiagnosticArray] = []
        self.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 20)

    def call(self, client: Any, request: Any, timeout_s: float = 60.0) -> Any:
        assert client.wait_for_service(timeout_sec=timeout_s), client.srv_name
        future = client.call_async(request)
        wait_for(future.done, timeout_s, what=f"{client.srv_name} to answer")
        return future.result()

    def read(self, client: Any, request: Any, timeout_s: float = 60.0) -> Any:
        """``call`` for requests that change nothing, sent again every 2 s: a reply can be lost
        while the server still discovers this client (a reader it has not matched yet)."""
        assert client.wait_for_service(timeout_sec=timeout_s), client.srv_name
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            future = client.call_async(request)
            try:
                wait_for(future.done, 2.0, what=f"{client.srv_name} to answer")
            except AssertionError:
                client.remove_pending_request(future)
                continue
            return future.result()
        raise AssertionError(f"{client.srv_name} never answered in {timeout_s} s")

    def state(self) -> str:
        return str(self.read(self.get_state, GetState.Request()).current_state.label)

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return bool(self.call(self.change, request).success)

    def set_parameters(self, values: dict[str, Any]) -> list[Any]:
        msgs = [Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        return list(self.call(self.set, SetParameters.Request(parameters=msgs)).results)

    def values(self, names: Sequence[str]) -> dict[str, Any]:
        reply = self.read(self.get, GetParameters.Request(names=list(names)))
        return {n: parameter_value_to_python(v) for n, v in zip(names, reply.values, strict=True)}

    def decide(self, timeout_s: float = 120.0) -> Any:
        """Publish fresh frames and ask until the node decides."""
        wait_for(lambda: self.camera.get_subscription_count() > 0, 60, what="the node's camera")
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.time_ns()
            for i in range(3):
                self.camera.publish(image_msg(frame(seed=i), now + i * 250_000_000, "rgb8"))
            answer = self.call(self.ask, AskNextAction.Request())
            if answer.success or time.monotonic() > deadline:
                return answer
            time.sleep(0.2)


def _hostile(decoy: ChatCompletionsServer) -> dict[str, Any]:
    """What an intruder would set: remote code, its own server, another secret, a backend."""
    values = {
        "trust_remote_code": True,
        "base_url": decoy.base_url,
        "api_key_env": "HOME",
        "backend": "transformers",
    }
    assert set(LAUNCH_ONLY) == set(values), "a new launch-only parameter: add a hostile value"
    return values


def test_after_lifecycle_cleanup_an_intruder_cannot_set_launch_only_parameters_over_dds(
    ros_context: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    server = ChatCompletionsServer(default=Reply.answer(ANSWER), api_key=SECRET)
    decoy = ChatCompletionsServer(default=Reply.answer(ANSWER))
    intruder = Intruder(ros_context)
    launch = {
        "backend": "openai",
        "model": "test-model",
        "base_url": "",  # set below, once the server has a port
        "api_key_env": KEY_ENV,
        "profile": "reason1",
        "max_retries": 0,
        "timeout_s": 10.0,
        "decision_period_s": 0.0,
        "max_frame_age_s": 30.0,
        "diagnostics_period_s": 0.2,
    }
    with server, decoy, spinning(ros_context, intruder):
        launch["base_url"] = server.base_url
        hostile = _hostile(decoy)
        ports = server.port, decoy.port
        with node_process(tmp_path, **launch):
            wait_for(lambda: intruder.state() == "active", 120, what="the node to be active")
            before = intruder.decide()
            down = [
                intruder.transition(t)
                for t in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP)
            ]
            state_after_cleanup = intruder.state()
            one_by_one = intruder.set_parameters(hostile)
            atomic = intruder.call(
                intruder.set_atomically,
                SetParametersAtomically.Request(
                    parameters=[
                        Parameter(k, value=v).to_parameter_msg() for k, v in hostile.items()
                    ]
                ),
            ).result
            ordinary = intruder.set_parameters({"timeout_s": 9.0})[0]  # not launch-only
            descriptors = intruder.call(
                intruder.describe, DescribeParameters.Request(names=LAUNCH_ONLY)
            ).descriptors
            up = [
                intruder.transition(t)
                for t in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE)
            ]
            intruder.diagnostics.clear()
            after = intruder.decide()
            values = intruder.values(LAUNCH_ONLY)
            wait_for(lambda: len(intruder.diagnostics) >= 2, 10, what="diagnostics")
            diagnostics = [str(d) for d in intruder.diagnostics]
        log = (tmp_path / "node.log").read_text(errors="replace")
    intruder.destroy_node()
    assert before.success and down == [True, True], log_tail(tmp_path / "node.log")
    assert state_after_cleanup == "unconfigured"
    reasons = {name: r.reason for name, r in zip(hostile, one_by_one, strict=True)}
    assert not any(r.successful for r in one_by_one), reasons
    assert reasons == {n: f"Trying to set a read-only parameter: {n}." for n in hostile}
    assert not atomic.successful and "read-only" in atomic.reason, atomic.reason
    assert ordinary.successful, ordinary.reason  # the refusals are specific, not a dead service
    assert all(d.read_only and "launch-time only" in d.description for d in descriptors)
    # The configuration after the intruder's configure is the one the node was launched with.
    assert up == [True, True]
    assert after.success, after.message
    assert values == {n: launch.get(n, False) for n in LAUNCH_ONLY}
    assert any(f"remote 127.0.0.1:{ports[0]}" in d for d in diagnostics)
    assert not any(f":{ports[1]}" in d for d in diagnostics)
    assert decoy.requests == [], "the intruder's server heard from the node"
    assert server.chat_requests[-1].authorization == f"Bearer {SECRET}"
    assert SECRET not in log


@pytest.mark.parametrize("trusted", [True, False], ids=["trust_remote_code", "no_remote_code"])
def test_model_changes_over_dds_only_while_no_remote_code_may_run(
    ros_context: Any, trusted: bool
) -> None:
    node = ReasonNode(
        context=ros_context,
        parameter_overrides=[
            Parameter("autostart", value=False),
            Parameter("trust_remote_code", value=trusted),
        ],
    )
    intruder = Intruder(ros_context)
    with spinning(ros_context, node, intruder):
        result = intruder.set_parameters({"model": "someone/remote-code-model"})[0]
        model = intruder.values(["model"])["model"]
    node.close()
    node.destroy_node()
    intruder.destroy_node()
    if trusted:
        assert not result.successful
        assert result.reason == (
            "model cannot change at run time while trust_remote_code is true: the new "
            "checkpoint's own Python code would run; set model where the node is launched"
        )
        assert model == "nvidia/Cosmos3-Nano"
    else:
        assert result.successful, result.reason
        assert model == "someone/remote-code-model"
