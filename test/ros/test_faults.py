"""Backend and model faults never crash the node: real rclpy nodes over real DDS.

Faults are injected on purpose by ``testing.faulty_backend.FaultyBackend``, a wrapper around the
REAL transformers backend running the tiny model (a sick GPU runtime cannot be produced here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from harness import Listener, attach_camera, make_node, running
from rcl_interfaces.msg import Log
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from spin import spinning, wait_for

from cosmos_reason_ros import backends
from cosmos_reason_ros.ros.node import FAILURE, SUCCESS
from cosmos_reason_ros.testing import faulty_backend
from cosmos_reason_ros.testing.faulty_backend import SWITCH

TIMEOUT_S = 2.0


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> Iterator[faulty_backend.FaultSwitch]:
    """``backend: transformers`` builds a FaultyBackend (in this test only); no fault yet."""
    monkeypatch.setitem(backends._REGISTRY, "transformers", faulty_backend.REGISTRY_ENTRY)
    SWITCH.clear()
    yield SWITCH
    SWITCH.clear()


def test_each_backend_fault_fails_the_ask_clearly_publishes_nothing_and_then_asks_succeed(
    ros_context: Any, tiny_model_dir: Any, faulty: faulty_backend.FaultSwitch
) -> None:
    faults = [
        ("backend_error", "backend failed: injected fault: the model runtime went away"),
        ("runtime_error", "internal error: RuntimeError: injected fault: CUDA error"),
        ("hang", f"inference timed out: inference timed out after {TIMEOUT_S:g} s"),
        ("cuda_oom", "backend failed: out of memory"),
        ("memory_error", "backend failed: out of memory"),
    ]
    failures: list[tuple[str, bool, str]] = []
    recovered: list[Any] = []
    with running(ros_context, tiny_model_dir, inference_timeout_s=TIMEOUT_S) as (node, listener):
        cam = attach_camera(node, "/cam/image_raw")
        newest = cam.publish_frames(n=3)
        recovered.append(listener.ask_on_newest(newest))
        for fault, _ in faults:
            faulty.set(fault, hang_s=TIMEOUT_S + 1.0)
            res = listener.call()
            failures.append((fault, res.success, res.message))
            faulty.clear()
            recovered.append(listener.call())
        faulty.set("garbage")
        garbage = listener.call()
        faulty.clear()
        recovered.append(listener.call())
        time.sleep(0.5)  # let any late publication arrive
        published = list(listener.actions)
        cam.destroy_node()
    for (fault, success, message), (_, expected) in zip(failures, faults, strict=True):
        assert not success, fault
        assert message.startswith(expected), (fault, message)
    assert all(r.success and r.action.valid for r in recovered), recovered
    assert garbage.success and not garbage.action.valid
    assert garbage.action.action == "stop"
    assert garbage.action.reason, "an invalid decision says why"
    answered = {r.action.decision_id for r in [*recovered, garbage]}
    assert {a.decision_id for a in published} == answered, "a failed or late decision published"


@pytest.mark.parametrize("publish_on_failure", [True, False], ids=["fallback", "silent"])
def test_periodic_decisions_during_a_fault_publish_only_fallbacks_that_explain_it(
    ros_context: Any,
    tiny_model_dir: Any,
    faulty: faulty_backend.FaultSwitch,
    publish_on_failure: bool,
) -> None:
    with running(ros_context, tiny_model_dir, publish_on_failure=publish_on_failure) as (
        node,
        listener,
    ):
        cam = attach_camera(node, "/cam/image_raw")
        newest = cam.publish_frames(n=3)
        last_good = listener.ask_on_newest(newest).action.decision_id
        faulty.set("backend_error")
        assert node.set_parameters([Parameter("decision_period_s", value=0.2)])[0].successful
        wait_for(lambda: faulty.injected >= 3, 30, what="three failed periodic decisions")
        assert node.set_parameters([Parameter("decision_period_s", value=0.0)])[0].successful
        time.sleep(0.5)
        during = [a for a in listener.actions if a.decision_id > last_good]
        faulty.clear()
        after = listener.ask_on_newest(newest)
        cam.destroy_node()
    if publish_on_failure:
        assert len(during) >= 2
        assert all(not a.valid and a.action == "stop" for a in during), during
        assert all(
            a.reason == "backend failed: injected fault: the model runtime went away"
            for a in during
        ), during
    else:
        assert during == []
    assert after.success and after.action.valid


def _rosout(listener: Listener) -> list[Log]:
    logs: list[Log] = []
    qos = QoSProfile(
        depth=100,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )
    listener.create_subscription(Log, "/rosout", logs.append, qos)
    return logs


def test_missing_or_corrupt_model_folder_fails_configure_clearly_then_a_good_model_configures(
    ros_context: Any, tiny_model_dir: Any, tmp_path: Path
) -> None:
    missing = tmp_path / "no_such_model"
    corrupt = tmp_path / "corrupt_model"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{ this is not json", encoding="utf-8")
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 64)
    node = make_node(ros_context, missing, autostart=False)
    listener = Listener(ros_context)
    logs = _rosout(listener)
    results = []
    with spinning(ros_context, node, listener):
        results.append(node.trigger_configure())
        assert node.set_parameters([Parameter("model", value=str(corrupt))])[0].successful
        results.append(node.trigger_configure())
        assert node.set_parameters([Parameter("model", value=str(tiny_model_dir))])[0].successful
        results.append(node.trigger_configure())
        results.append(node.trigger_activate())
        wait_for(lambda: sum("configure failed" in m.msg for m in logs) >= 2, what="error logs")
    node.close()
    node.destroy_node()
    listener.destroy_node()
    errors = [m.msg for m in logs if "configure failed" in m.msg]
    assert results == [FAILURE, FAILURE, SUCCESS, SUCCESS]
    assert errors == [
        f"configure failed: model folder {missing} does not exist",
        f"configure failed: model folder {corrupt} has an unreadable config.json: "
        "Expecting property name enclosed in double quotes: line 1 column 3 (char 2)",
    ]
