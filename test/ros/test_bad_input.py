"""Bad input never crashes the node: real rclpy nodes over real DDS, the real tiny model.

Every bad camera frame, request and parameter gets a clear message (camera frames: a count in
/diagnostics too), and the node keeps answering correct requests afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from harness import (
    PERIOD_NS,
    T0_NS,
    Camera,
    Listener,
    attach_camera,
    frame,
    image_msg,
    make_node,
    running,
)
from rcl_interfaces.msg import Log
from rclpy.action import ActionClient
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from spin import spinning, wait_for

from cosmos_reason_ros.action import Reason
from cosmos_reason_ros.config import DEFAULT_ACTIONS, SPECS, ParamSpec
from cosmos_reason_ros.ros.conversions import ns_from_time, time_from_ns
from cosmos_reason_ros.ros.node import FAILURE, SUCCESS

ALLOWED = {a.split(":")[0] for a in DEFAULT_ACTIONS}
RAW, COMPRESSED = "/cam/image_raw", "/cam2/image_raw/compressed"


def _stamp(i: int) -> int:
    return T0_NS + i * PERIOD_NS


def _camera_values(diags: list[DiagnosticArray], topic: str) -> dict[str, str]:
    for arr in reversed(diags):
        for st in arr.status:
            if st.name.endswith(f"camera {topic}"):
                return {kv.key: kv.value for kv in st.values}
    return {}


def _camera(node: Any, topic: str) -> Any:
    return next(c for c in node._cameras if c.topic == topic)


def _raw(i: int, edit: Callable[[Image], None]) -> Image:
    msg = image_msg(frame(), _stamp(i), "rgb8")
    edit(msg)
    return msg


def _set(**fields: Any) -> Callable[[Any], None]:
    def edit(msg: Any) -> None:
        for key, value in fields.items():
            setattr(msg, key, value)

    return edit


def _mono_as_rgb8(step_for_rgb: bool) -> Callable[[Image], None]:
    mono = image_msg(frame(), 0, "mono8")

    def edit(msg: Image) -> None:
        msg.data = mono.data
        msg.step = mono.width * 3 if step_for_rgb else mono.step

    return edit


def _depth_32fc1_with_nan(stamp_ns: int) -> Image:
    depth = np.linspace(0.5, 5.0, 120 * 160, dtype=np.float32).reshape(120, 160)
    depth[:, :40] = np.nan
    depth[0, 0] = np.inf
    msg = Image(height=120, width=160, encoding="32FC1", step=160 * 4, data=depth.tobytes())
    msg.header.stamp = time_from_ns(stamp_ns)
    msg.header.frame_id = "cam"
    return msg


def _compressed(i: int, kind: str, data: bytes, fmt: str | None = None) -> CompressedImage:
    msg = CompressedImage(format=fmt or kind, data=data)
    msg.header.stamp = time_from_ns(_stamp(i))
    msg.header.frame_id = "cam2"
    return msg


def test_malformed_camera_frames_are_refused_with_a_reason_counted_invalid_and_answers_go_on(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    jpeg = bytes(image_msg(frame(), 0, "jpeg").data)
    png = bytes(image_msg(frame(), 0, "png").data)
    huge = 16384
    raw_cases = [
        (_set(step=7), "image step 7 is smaller than width * bytes per pixel"),
        (lambda m: setattr(m, "data", bytes(m.data[:100])), "image data is truncated: 100 bytes"),
        (_set(width=0, step=0, data=b""), "image has zero size: width 0, height 120"),
        (_set(height=0, data=b""), "image has zero size: width 160, height 0"),
        (
            _set(width=huge, height=huge, step=huge * 3),  # declared 16k x 16k, data stays small
            f"image of {huge}x{huge} = {huge * huge} pixels is over the limit",
        ),
        (_set(encoding="xyz42"), "unsupported image encoding 'xyz42'"),
        (_mono_as_rgb8(step_for_rgb=False), "image step 160 is smaller than width"),
        (_mono_as_rgb8(step_for_rgb=True), "image data is truncated"),
        (lambda m: setattr(m.header, "stamp", time_from_ns(0)), "header.stamp is 0"),
        (lambda m: setattr(m.header.stamp, "sec", 2**31 - 1), "ahead of this node's clock"),
    ]
    compressed_cases = [
        (b"\xff\xd8\xff" + bytes(range(256)) * 4, "jpeg", "jpeg header is corrupt or truncated"),
        (jpeg[: len(jpeg) // 2], "jpeg", "could not decode jpeg image"),
        (png[: len(png) // 2], "png", "could not decode png image"),
        (b"GIF89a" + bytes(100), "png", "neither JPEG nor PNG"),
        (png, "jpeg", "format 'jpeg' says jpeg but data is png"),
        (b"", "png", "compressed image has no data"),
    ]
    diags: list[DiagnosticArray] = []
    with running(
        ros_context, tiny_model_dir, topics=[RAW, COMPRESSED], diagnostics_period_s=0.2
    ) as (node, listener):
        listener.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
        cam = Camera(ros_context, RAW, reliable=True)
        cam2 = Camera(ros_context, COMPRESSED, reliable=True, name="cam2")
        node.executor.add_node(cam)
        node.executor.add_node(cam2)
        cam.wait_matched()
        cam2.wait_matched()
        errors: list[tuple[str, str]] = []
        for i, (edit, expected) in enumerate(raw_cases):
            cam.send([_raw(100 + i, edit)])
            wait_for(
                lambda n=i + 1: _camera(node, RAW).stats().invalid == n,
                what=f"raw frame {i} to be counted invalid ({expected})",
            )
            errors.append((_camera(node, RAW).stats().last_error, expected))
        for i, (data, kind, expected) in enumerate(compressed_cases):
            cam2.send([_compressed(100 + i, kind, data)])
            wait_for(
                lambda n=i + 1: _camera(node, COMPRESSED).stats().invalid == n,
                what=f"compressed frame {i} to be counted invalid ({expected})",
            )
            errors.append((_camera(node, COMPRESSED).stats().last_error, expected))
        wait_for(
            lambda: (
                _camera_values(diags, RAW).get("invalid") == str(len(raw_cases))
                and _camera_values(diags, COMPRESSED).get("invalid") == str(len(compressed_cases))
            ),
            what="/diagnostics to count every bad frame",
        )
        newest = cam.publish_frames(n=3, start_ns=_stamp(200))
        res = listener.ask_on_newest(newest)
        for node_ in (cam, cam2):
            node_.destroy_node()
    for error, expected in errors:
        assert expected in error, (error, expected)
    assert res.action.action in ALLOWED and res.action.valid


def test_depth_with_nan_far_past_and_out_of_order_stamps_are_handled_without_failing(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    diags: list[DiagnosticArray] = []
    with running(ros_context, tiny_model_dir, diagnostics_period_s=0.2) as (node, listener):
        listener.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
        cam = attach_camera(node, RAW, reliable=True)
        cam.wait_matched()
        cam.send([_depth_32fc1_with_nan(_stamp(0))])  # NaN/inf = no measurement: black pixels
        depth_res = listener.ask_on_newest(_stamp(0))
        cam.send([image_msg(frame(), _stamp(10), "rgb8"), image_msg(frame(), _stamp(9), "rgb8")])
        wait_for(
            lambda: _camera_values(diags, RAW).get("out_of_order") == "1",
            30.0,
            what="/diagnostics to count the out-of-order frame",
        )
        cam.send([image_msg(frame(), 1_000_000_000, "rgb8")])  # 1970: a camera restart
        newest = cam.publish_frames(n=3, start_ns=_stamp(20))
        res = listener.ask_on_newest(newest)
        values = _camera_values(diags, RAW)
        cam.destroy_node()
    assert depth_res.action.valid and depth_res.action.frame_count == 1
    assert values["invalid"] == "0"
    assert ns_from_time(res.action.window_start) >= T0_NS, "the 1970 frame left the window"


def test_bad_questions_and_choices_are_refused_naming_the_limit_and_answers_go_on(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    with running(ros_context, tiny_model_dir) as (node, listener):
        cam = attach_camera(node, RAW)
        cam.wait_matched()
        newest = cam.publish_frames(n=3, start_ns=_stamp(0))
        listener.ask_on_newest(newest)
        empty = listener.call(question="   ")
        huge = listener.call(question="x" * 1_000_000)
        many = listener.call(choices=[f"a{i}" for i in range(1000)])
        duplicate = listener.call(choices=["stop", "stop"])
        blank = listener.call(choices=["", "stop"])
        unknown = listener.call(choices=["fly", "stop"])
        client = ActionClient(listener, Reason, "/cosmos_reason/reason")
        assert client.wait_for_server(timeout_sec=10)
        goals = [_reason(client, question="x" * 1_000_000), _reason(client, choices=["fly"])]
        good = listener.call(question="Which way?", choices=["stop", "wait"])
        cam.destroy_node()
    assert empty.success and empty.reasoning.question == "What should the robot do next?"
    assert not huge.success
    assert huge.message == (
        "bad request: question is 1000000 characters; max_question_chars is 4000"
    )
    assert not many.success
    assert many.message == "bad request: 1000 choices given; max_choices is 32"
    assert not duplicate.success and duplicate.message == "bad request: duplicate choices: 'stop'"
    assert not blank.success
    assert blank.message == "bad request: choices [0] are empty; each choice must name an action"
    assert not unknown.success
    assert unknown.message.startswith("bad request: choices 'fly' are not allowed actions")
    assert [(g.success, g.message.split(";")[-1].strip()) for g in goals] == [
        (False, "max_question_chars is 4000"),
        (False, "allowed: " + ", ".join(a.split(":")[0] for a in DEFAULT_ACTIONS)),
    ]
    assert good.success and good.action.action in {"stop", "wait"}
    assert good.reasoning.question == "Which way?"


def _reason(client: ActionClient, question: str = "", choices: tuple[str, ...] = ()) -> Any:
    future = client.send_goal_async(Reason.Goal(question=question, choices=list(choices)))
    wait_for(future.done, what="goal acceptance")
    result = future.result().get_result_async()
    wait_for(result.done, 30, what="the action result")
    return result.result().result


def _wrong_type(spec: ParamSpec) -> Any:
    if isinstance(spec.default, bool):
        return "yes"
    if isinstance(spec.default, (int, float)):
        return "abc"
    if isinstance(spec.default, list):
        return [1, 2]
    return 5


def _out_of_range(spec: ParamSpec) -> list[Any]:
    kind = type(spec.default)
    values: list[Any] = [f"not_{spec.name}"] if spec.choices else []
    if spec.low is not None:  # a family parameter's -1 ("the family's") is valid
        values.append(kind(min(spec.low, -1) - 1 if spec.family else spec.low - 1))
    if spec.high is not None:
        values.append(kind(spec.high + 1))
    return values


def test_every_parameter_of_wrong_type_or_out_of_range_is_rejected_naming_it(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    with running(ros_context, tiny_model_dir) as (node, listener):
        cam = attach_camera(node, RAW)
        cam.wait_matched()
        newest = cam.publish_frames(n=3, start_ns=_stamp(0))
        accepted: list[str] = []
        unclear: list[str] = []
        for spec in SPECS:
            for value in [_wrong_type(spec), *_out_of_range(spec)]:
                result = node.set_parameters([Parameter(spec.name, value=value)])[0]
                if result.successful:
                    accepted.append(f"{spec.name}={value!r}")
                elif spec.name not in result.reason:
                    unclear.append(f"{spec.name}={value!r}: {result.reason}")
        res = listener.ask_on_newest(newest)
        cam.destroy_node()
    assert accepted == []
    assert unclear == []
    assert res.success


def test_params_override_of_wrong_type_fails_configure_naming_it_until_set_right(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    logs: list[Log] = []
    node = make_node(ros_context, tiny_model_dir, autostart=False, window_s="abc")
    listener = Listener(ros_context)
    qos = QoSProfile(
        depth=100,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )
    listener.create_subscription(Log, "/rosout", logs.append, qos)
    with spinning(ros_context, node, listener):
        first = node.trigger_configure()
        wait_for(lambda: any("configure failed" in m.msg for m in logs), what="the error log")
        fixed = node.set_parameters([Parameter("window_s", value=4.0)])[0]
        second = node.trigger_configure()
    node.close()
    node.destroy_node()
    listener.destroy_node()
    failure = next(m.msg for m in logs if "configure failed" in m.msg)
    assert first == FAILURE
    assert "window_s" in failure and "'abc'" in failure, failure
    assert fixed.successful
    assert second == SUCCESS
