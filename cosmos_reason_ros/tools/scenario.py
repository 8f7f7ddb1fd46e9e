"""Synthetic camera scenarios written as real rosbag2 files, with a labels file beside them.

A scenario is a short clip of a robot's forward camera: a floor, a wall, a table, and one event
that a good next-action policy should react to (a ball rolling toward the camera, an object
falling off the table, a person crossing the path), or one that alert rules watch for (a person
falling to the floor, a machine starting to smoke and spark) or its look-alike that must not
raise them (a person sitting down, a machine's status lamp blinking). The bag is written with
rosbags and the standard ROS 2 (Humble) message definitions, so any rosbag2 reader can play it.

Output layout for ``OUT.mcap`` (or ``OUT.db3``)::

    OUT/metadata.yaml  OUT/OUT.mcap     the rosbag2 directory (rosbags' layout)
    OUT.labels.yaml                     event, event time, expected actions, and for every
                                        rule of ``ALERT_RULES`` its condition and labelled
                                        events (none in a look-alike)

Everything is deterministic: the same arguments give the same message bytes.

Example::

    cosmos-reason-scenario /tmp/ball.mcap --event ball_rolling --compressed
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys import Stores, get_typestore

from cosmos_reason_ros.core.errors import CosmosReasonError
from cosmos_reason_ros.exits import ExitCode, exit_epilog
from cosmos_reason_ros.tools.bags import COMPRESSED_TYPE, IMAGE_TYPE, bag_dir_for
from cosmos_reason_ros.tools.options import HelpFormatter
from cosmos_reason_ros.tools.scenes import RgbImage, SceneRenderer

EVENTS = (
    "ball_rolling",
    "object_falling",
    "person_crossing",
    "person_falling",
    "person_sitting",
    "machine_smoking",
    "machine_blinking",
)
ACTIONS = ("continue", "slow_down", "stop", "move_back", "turn_left", "turn_right", "wait")
FRAME_ID = "camera_optical_frame"
START_NS = 1_700_000_000 * 1_000_000_000
"""Stamp of the first frame: a fixed epoch, so bags are byte-for-byte reproducible."""

_EXPECTED: dict[str, tuple[tuple[str, ...], str]] = {
    "ball_rolling": (("stop", "move_back"), "a ball starts rolling toward the camera"),
    "object_falling": (("stop", "wait"), "an object slides off the table edge and falls"),
    "person_crossing": (("stop", "wait", "slow_down"), "a person walks across the path"),
    "person_falling": (("stop", "wait"), "a standing person falls over and lies on the floor"),
    "person_sitting": (("continue", "slow_down", "wait"), "a standing person sits down"),
    "machine_smoking": (("stop", "move_back"), "a machine starts to smoke and spark"),
    "machine_blinking": (("continue", "slow_down"), "a machine's status lamp starts to blink"),
}

ALERT_RULES: dict[str, str] = {
    "person_fallen": "Has a person fallen to the floor?",
    "machine_smoke": "Is a machine giving off smoke or sparks?",
}
"""The alert rules every scenario is labelled for (name: condition); an evaluation that names
no rules judges these."""
_ALERT_OF_EVENT = {"person_falling": "person_fallen", "machine_smoking": "machine_smoke"}
"""The rule an event makes true, from the event's start to the end of the clip."""
_EVENT_FRACTION = 1.0 / 3.0  # the event starts a third of the way into the clip


class ScenarioError(CosmosReasonError):
    """The scenario cannot be written (bad argument, output exists)."""


@dataclass(frozen=True)
class AlertLabel:
    """The ground truth of one alert rule in a scenario.

    Attributes:
        rule: The rule's name (an evaluation scores its rule of this name against it).
        condition: The rule's yes/no question, as the labels suggest it.
        events: (start_ns, end_ns) bag-time spans during which the condition holds; () when
            it never does (a look-alike, or another event).
    """

    rule: str
    condition: str
    events: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ScenarioLabels:
    """The ground truth of one scenario, as stored in ``OUT.labels.yaml``.

    Attributes:
        event: Event name, one of ``EVENTS``.
        description: One sentence about the event.
        start_time_ns: Stamp of the first frame.
        event_time_ns: Stamp (bag time) from which the event is visible.
        expected_actions: Sensible actions once the event is visible.
        expected_actions_before: Sensible actions before it.
        actions: The action vocabulary the labels are written in.
        topics: Image topics in the bag.
        alerts: The labels of every alert rule the scenario is labelled for.
    """

    event: str
    description: str
    start_time_ns: int
    event_time_ns: int
    expected_actions: tuple[str, ...]
    expected_actions_before: tuple[str, ...]
    actions: tuple[str, ...]
    topics: tuple[str, ...]
    alerts: tuple[AlertLabel, ...] = ()

    @property
    def event_time_from_start_s(self) -> float:
        return (self.event_time_ns - self.start_time_ns) / 1e9


@dataclass(frozen=True)
class ScenarioInfo:
    """What ``write_scenario`` wrote.

    Attributes:
        bag_path: The rosbag2 directory.
        storage: ``mcap`` or ``sqlite3``.
        labels_path: The labels YAML file.
        topics: Topics written (raw image topic first).
        stamps_ns: Header stamps of the frames (the same on every topic).
        labels: The labels written.
    """

    bag_path: Path
    storage: str
    labels_path: Path
    topics: tuple[str, ...]
    stamps_ns: tuple[int, ...]
    labels: ScenarioLabels


def labels_path_for(bag_dir: Path) -> Path:
    """The labels file that belongs to ``bag_dir``: ``<bag_dir>.labels.yaml`` beside it."""
    return bag_dir.with_name(bag_dir.name + ".labels.yaml")


def write_scenario(
    path: str | Path,
    *,
    event: str = "ball_rolling",
    duration_s: float = 6.0,
    rate_hz: float = 15.0,
    width: int = 320,
    height: int = 240,
    compressed: bool = False,
    topic: str = "/camera/image_raw",
    seed: int = 0,
) -> ScenarioInfo:
    """Write a scenario bag and its labels file.

    Args:
        path: ``OUT.mcap`` or ``OUT.db3``; the bag directory is ``OUT``. Must not exist.
        event: One of ``EVENTS``.
        duration_s: Clip length in seconds of camera time.
        rate_hz: Camera frame rate.
        width: Image width in pixels.
        height: Image height in pixels.
        compressed: Also write ``<topic>/compressed`` (sensor_msgs/CompressedImage, JPEG).
        topic: The raw image topic (sensor_msgs/Image, rgb8).
        seed: Seed of the sensor noise and floor texture.

    Returns:
        What was written.

    Raises:
        ScenarioError: An argument is out of range or the output exists.
    """
    bag_dir, plugin = bag_dir_for(Path(path))
    count = _validate(
        event=event,
        duration_s=duration_s,
        rate_hz=rate_hz,
        width=width,
        height=height,
        topic=topic,
    )
    labels_path = labels_path_for(bag_dir)
    if labels_path.exists():
        raise ScenarioError(f"{labels_path} exists already, not overwriting")
    stamps = tuple(START_NS + round(i * 1e9 / rate_hz) for i in range(count))
    event_index = min(count - 1, round(count * _EVENT_FRACTION))
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    topics: tuple[str, ...] = (topic, topic + "/compressed") if compressed else (topic,)
    scene = SceneRenderer(width, height, seed)
    try:
        writer = Writer(bag_dir, version=Writer.VERSION_LATEST, storage_plugin=plugin)
    except WriterError as err:
        raise ScenarioError(str(err)) from None
    with writer:
        raw = writer.add_connection(topic, IMAGE_TYPE, typestore=typestore)
        jpeg = (
            writer.add_connection(topics[1], COMPRESSED_TYPE, typestore=typestore)
            if compressed
            else None
        )
        for i, stamp in enumerate(stamps):
            progress = _progress(i, event_index, count)
            rgb = scene.render(event, progress)
            header = _header(typestore, stamp)
            writer.write(
                raw,
                stamp,
                typestore.serialize_cdr(_image(typestore, header, rgb), "sensor_msgs/msg/Image"),
            )
            if jpeg is not None:
                msg = _compressed(typestore, header, rgb)
                writer.write(
                    jpeg, stamp, typestore.serialize_cdr(msg, "sensor_msgs/msg/CompressedImage")
                )
    expected, description = _EXPECTED[event]
    labels = ScenarioLabels(
        event=event,
        description=description,
        start_time_ns=stamps[0],
        event_time_ns=stamps[event_index],
        expected_actions=expected,
        expected_actions_before=("continue", "slow_down"),
        actions=ACTIONS,
        topics=topics,
        alerts=tuple(
            AlertLabel(
                rule,
                condition,
                ((stamps[event_index], stamps[-1]),) if _ALERT_OF_EVENT.get(event) == rule else (),
            )
            for rule, condition in ALERT_RULES.items()
        ),
    )
    _write_labels(
        labels_path,
        labels,
        bag_dir=bag_dir,
        plugin=plugin,
        rate_hz=rate_hz,
        width=width,
        height=height,
        count=count,
        seed=seed,
    )
    return ScenarioInfo(bag_dir, plugin.name.lower(), labels_path, topics, stamps, labels)


def load_labels(path: str | Path) -> ScenarioLabels:
    """Read a labels file written by ``write_scenario`` (or by hand, same keys).

    Raises:
        ScenarioError: The file is missing a key or a value has the wrong type.
    """
    try:
        with Path(path).open(encoding="utf-8") as f:
            data = yaml.safe_load(f)
        ev = data["event"]
        return ScenarioLabels(
            event=str(ev["name"]),
            description=str(ev.get("description", "")),
            start_time_ns=int(data["start_time_ns"]),
            event_time_ns=int(ev["time_ns"]),
            expected_actions=tuple(str(a) for a in data["expected_actions"]),
            expected_actions_before=tuple(
                str(a) for a in data.get("expected_actions_before_event", ())
            ),
            actions=tuple(str(a) for a in data.get("actions", ACTIONS)),
            topics=tuple(str(t) for t in data.get("topics", ())),
            alerts=tuple(
                AlertLabel(
                    str(rule),
                    str(spec.get("condition", "")),
                    tuple((int(a["start_ns"]), int(a["end_ns"])) for a in spec.get("events", ())),
                )
                for rule, spec in (data.get("alerts") or {}).items()
            ),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise ScenarioError(f"cannot read labels {path}: {type(err).__name__}: {err}") from None


def _validate(
    *, event: str, duration_s: float, rate_hz: float, width: int, height: int, topic: str
) -> int:
    if event not in EVENTS:
        raise ScenarioError(f"event must be one of {', '.join(EVENTS)}; got {event!r}")
    if not (math.isfinite(rate_hz) and 0.5 <= rate_hz <= 120.0):
        raise ScenarioError(f"rate_hz must be in [0.5, 120], got {rate_hz}")
    if not (math.isfinite(duration_s) and 0.0 < duration_s <= 600.0):
        raise ScenarioError(f"duration_s must be in (0, 600], got {duration_s}")
    if not (32 <= width <= 4096 and 32 <= height <= 4096):
        raise ScenarioError(f"width and height must be in [32, 4096], got {width}x{height}")
    if not topic.startswith("/") or topic.endswith("/"):
        raise ScenarioError(f"topic must be an absolute topic name, got {topic!r}")
    count = round(duration_s * rate_hz)
    if count < 2:
        raise ScenarioError(f"duration_s * rate_hz must give at least 2 frames, got {count}")
    return count


def _progress(index: int, event_index: int, count: int) -> float:
    """-1..0 from the first frame to the event, 0..1 from the event to the last frame."""
    if index < event_index:
        return (index - event_index) / max(1, event_index)
    return (index - event_index) / max(1, count - 1 - event_index)


def _header(typestore: Any, stamp_ns: int) -> Any:
    time = typestore.types["builtin_interfaces/msg/Time"](
        sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000
    )
    return typestore.types["std_msgs/msg/Header"](stamp=time, frame_id=FRAME_ID)


def _image(typestore: Any, header: Any, rgb: RgbImage) -> Any:
    h, w = rgb.shape[:2]
    return typestore.types["sensor_msgs/msg/Image"](
        header=header,
        height=h,
        width=w,
        encoding="rgb8",
        is_bigendian=0,
        step=w * 3,
        data=np.ascontiguousarray(rgb).reshape(-1),
    )


def _compressed(typestore: Any, header: Any, rgb: RgbImage) -> Any:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    if not ok:
        raise ScenarioError("JPEG encoding failed")
    return typestore.types["sensor_msgs/msg/CompressedImage"](
        header=header, format="rgb8; jpeg compressed bgr8", data=buf.reshape(-1)
    )


def _write_labels(
    path: Path,
    labels: ScenarioLabels,
    *,
    bag_dir: Path,
    plugin: StoragePlugin,
    rate_hz: float,
    width: int,
    height: int,
    count: int,
    seed: int,
) -> None:
    offset = labels.event_time_ns - labels.start_time_ns
    data = {
        "bag": bag_dir.name,
        "storage": plugin.name.lower(),
        "event": {
            "name": labels.event,
            "description": labels.description,
            "time_ns": labels.event_time_ns,
            "time_from_start_ns": offset,
            "time_from_start_s": offset / 1e9,
        },
        "expected_actions": list(labels.expected_actions),
        "expected_actions_before_event": list(labels.expected_actions_before),
        "actions": list(labels.actions),
        "topics": list(labels.topics),
        "alerts": {
            a.rule: {
                "condition": a.condition,
                "events": [
                    {
                        "start_ns": start,
                        "end_ns": end,
                        "start_s": (start - labels.start_time_ns) / 1e9,
                        "end_s": (end - labels.start_time_ns) / 1e9,
                    }
                    for start, end in a.events
                ],
            }
            for a in labels.alerts
        },
        "frame_id": FRAME_ID,
        "start_time_ns": labels.start_time_ns,
        "frame_count": count,
        "rate_hz": rate_hz,
        "width": width,
        "height": height,
        "seed": seed,
    }
    with path.open("w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, sort_keys=False)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cosmos-reason-scenario",
        description="Write a synthetic camera scenario as a rosbag2 (mcap or sqlite3) "
        "and a labels file beside it.",
        epilog=exit_epilog(
            {ExitCode.OK: None, ExitCode.INPUT: "bad settings, or the files cannot be written"}
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("out", type=Path, help="OUT.mcap or OUT.db3 (the bag directory is OUT)")
    p.add_argument(
        "--event", choices=EVENTS, default="ball_rolling", help="what happens in the scene"
    )
    p.add_argument("--duration-s", type=float, default=6.0, help="length of the bag in seconds")
    p.add_argument("--rate-hz", type=float, default=15.0, help="camera frames per second")
    p.add_argument("--width", type=int, default=320, help="frame width in pixels")
    p.add_argument("--height", type=int, default=240, help="frame height in pixels")
    p.add_argument(
        "--compressed",
        action="store_true",
        help="also write <topic>/compressed (JPEG CompressedImage)",
    )
    p.add_argument("--topic", default="/camera/image_raw", help="the camera's Image topic")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the sensor noise and floor texture"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``cosmos-reason-scenario``. Returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        info = write_scenario(
            args.out,
            event=args.event,
            duration_s=args.duration_s,
            rate_hz=args.rate_hz,
            width=args.width,
            height=args.height,
            compressed=args.compressed,
            topic=args.topic,
            seed=args.seed,
        )
    except (ScenarioError, OSError) as err:
        print(f"cosmos-reason-scenario: error: {err}", file=sys.stderr)
        return ExitCode.INPUT
    print(
        f"wrote {info.bag_path} ({info.storage}, {len(info.stamps_ns)} frames on "
        f"{', '.join(info.topics)}); event {info.labels.event} at "
        f"{info.labels.event_time_from_start_s:.2f} s; labels {info.labels_path}"
    )
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
