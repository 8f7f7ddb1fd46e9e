"""Play the camera topics of a rosbag2 (or ROS 1) bag into a live ROS graph, without ros2 bag.

Reads the bag with rosbags' ``AnyReader`` (mcap or sqlite3, any bag written with the standard
message definitions), converts each ``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage``
field by field into the rclpy message, and publishes it with the recorded timing (scaled by
``rate``). Optionally publishes ``/clock`` (rosgraph_msgs/Clock) with the bag time, for nodes
running with ``use_sim_time``. Other topics in the bag are listed and skipped.

Header stamps and frame ids are published exactly as recorded. With ``loop``, every pass after
the first shifts stamps (and ``/clock``) forward by the bag's length plus one frame period, so
time never runs backwards for the subscribers; pass ``restamp_loops=False`` to repeat the
recorded stamps instead.

With ``progress``, it reports what it plays: the topics, frame counts and length of a pass at
the start, then a line at the end of every pass and every ``PROGRESS_S`` seconds within one.

Its command line is ``cosmos-reason-replay`` (``replay_cli``)::

    cosmos-reason-replay /tmp/ball --rate 0.5 --loop --clock
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rclpy
from builtin_interfaces.msg import Time
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Connection
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image

from cosmos_reason_ros.core.errors import CosmosReasonError
from cosmos_reason_ros.ros import process
from cosmos_reason_ros.ros.conversions import to_ros_compressed_image, to_ros_image
from cosmos_reason_ros.ros.rclpy_adapter import CONTEXT_DOWN_ERRORS
from cosmos_reason_ros.tools.bags import (
    IMAGE_TYPE,
    find_bag,
    image_connections,
    open_bag,
)

QOS_CHOICES = ("reliable", "sensor_data")
_NS = 1_000_000_000
DRAIN_TIMEOUT_S = 5.0  # longest wait at the end for reliable subscribers to acknowledge
PROGRESS_S = 5.0
"""Seconds between progress lines within a pass (``replay``'s ``progress``)."""
Progress = Callable[[str], None]
"""Receives one progress line (no newline)."""


class ReplayError(CosmosReasonError):
    """The bag cannot be replayed (missing, unreadable, no image topics, bad argument)."""


@dataclass(frozen=True)
class ReplayStats:
    """What one ``replay`` call did.

    Attributes:
        published: Messages published per topic, as (topic, count) pairs.
        clock_published: ``/clock`` messages published.
        passes: Passes over the bag started (1 without ``loop``).
        wall_s: Wall time from the end of the start delay to the end of playback.
        bag_duration_s: Bag time between the first and last replayed message of a pass.
        stopped: Whether playback ended early (stop event, shutdown or Ctrl-C).
        skipped_topics: Topics in the bag that are not images and were not replayed.
    """

    published: tuple[tuple[str, int], ...]
    clock_published: int
    passes: int
    wall_s: float
    bag_duration_s: float
    stopped: bool
    skipped_topics: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.published)


def replay(
    bag_path: str | Path,
    *,
    rate: float = 1.0,
    loop: bool = False,
    clock: bool = False,
    topics: Sequence[str] | None = None,
    qos: str = "reliable",
    node: Node | None = None,
    start_delay_s: float = 0.0,
    min_subscribers: int = 0,
    stop_event: threading.Event | None = None,
    clock_hz: float = 40.0,
    restamp_loops: bool = True,
    progress: Progress | None = None,
) -> ReplayStats:
    """Publish the bag's image topics with their recorded timing. Blocks until done.

    Args:
        bag_path: The bag (see ``bags.find_bag``).
        rate: Playback speed; 2.0 plays twice as fast.
        loop: Start over at the end until ``stop_event`` is set or the context shuts down.
        clock: Also publish ``/clock`` with the bag time (at each message and ``clock_hz``).
        topics: Image topics to replay; None: every Image and CompressedImage topic.
        qos: ``reliable`` (keep last 100) or ``sensor_data`` (best effort, keep last 5).
        node: Publish from this node; rclpy is then neither initialised nor shut down here,
            and the caller spins the node (publishing needs no spinning). None: create a node
            in the default context, initialising and shutting down rclpy.
        start_delay_s: Wait this long after creating the publishers, so subscribers can
            discover them before the first message.
        min_subscribers: When > 0, end the start delay early once every publisher (images and
            ``/clock``) has this many matched subscriptions; ``start_delay_s`` is then the
            longest wait.
        stop_event: Set it (from any thread) to stop playback within a few milliseconds.
        clock_hz: Rate of ``/clock`` messages between frames.
        restamp_loops: On passes after the first, shift stamps so time keeps increasing.
        progress: Called with a line about where playback is (see the module docstring).

    Returns:
        What was published.

    Raises:
        ReplayError: Bad argument.
        BagError: Unreadable bag or no image topics to replay.
    """
    if not rate > 0.0:
        raise ReplayError(f"rate must be > 0, got {rate}")
    if qos not in QOS_CHOICES:
        raise ReplayError(f"qos must be one of {', '.join(QOS_CHOICES)}; got {qos!r}")
    if not (start_delay_s >= 0.0 and clock_hz > 0.0 and min_subscribers >= 0):
        raise ReplayError("start_delay_s and min_subscribers must be >= 0 and clock_hz > 0")
    bag = find_bag(bag_path)
    stop = stop_event or threading.Event()
    start = (start_delay_s, min_subscribers)

    def play(on: Node) -> ReplayStats:
        player = _Player(bag, on, rate=rate, clock=clock, clock_hz=clock_hz, qos=qos, stop=stop)
        player.progress = progress
        return player.run(topics, loop, start, restamp_loops)

    if node is not None:
        return play(node)
    process.init()  # without rclpy's signal handlers: Ctrl-C ends in the finally below
    own = Node("cosmos_reason_replay")
    try:
        return play(own)
    finally:
        own.destroy_node()
        rclpy.try_shutdown()


def _drain(
    pubs: Sequence[Publisher[Any]], context: Context, timeout_s: float = DRAIN_TIMEOUT_S
) -> None:
    """Wait until reliable subscribers have acknowledged what was published (best-effort
    publishers return at once), so that shutting down right after replay loses nothing.
    Nothing to wait for once the context is shut down (a signal handler of the caller's)."""
    deadline = time.monotonic() + timeout_s
    for pub in pubs:
        if not context.ok():
            return
        left = max(0.0, deadline - time.monotonic())
        try:
            pub.wait_for_all_acked(Duration(nanoseconds=int(left * _NS)))
        except CONTEXT_DOWN_ERRORS:  # the context went down meanwhile: nobody left to wait for
            return


def _qos_profile(qos: str) -> QoSProfile:
    if qos == "sensor_data":
        return qos_profile_sensor_data
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=100,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


class _Player:
    """One playback: publishers, the timing loop and the counters. Used from one thread."""

    def __init__(
        self,
        bag: Path,
        node: Node,
        *,
        rate: float,
        clock: bool,
        clock_hz: float,
        qos: str,
        stop: threading.Event,
    ) -> None:
        self.bag, self.node, self.rate, self.stop = bag, node, rate, stop
        self.progress: Progress | None = None
        self.next_report = 0.0  # monotonic time of the next progress line within a pass
        self.clock_period_s = 1.0 / clock_hz
        self.qos = _qos_profile(qos)
        self.clock_pub: Publisher[Any] | None = (
            node.create_publisher(Clock, "/clock", 10) if clock else None
        )
        self.counts: dict[str, int] = {}
        self.clock_count = 0
        self.first: int | None = None  # bag time of the first message of the first pass
        self.last = 0  # bag time of the last message seen in a pass (without offset)

    def run(
        self,
        topics: Sequence[str] | None,
        loop: bool,
        start: tuple[float, int],
        restamp: bool,
    ) -> ReplayStats:
        with open_bag(self.bag) as reader:
            conns = image_connections(reader.connections, topics)
            skipped = tuple(
                sorted({c.topic for c in reader.connections} - {c.topic for c in conns})
            )
            pubs = {c.topic: self._publisher(c) for c in conns}
            self.counts = dict.fromkeys(pubs, 0)
            waited = [*pubs.values(), *([self.clock_pub] if self.clock_pub else [])]
            self._report_start(reader, conns, loop)
            self._start_delay(waited, *start)
            wall_start = time.monotonic()
            passes, offset, stopped, pass_wall0 = 0, 0, False, wall_start
            while not stopped:
                passes += 1
                stopped = self._one_pass(reader, conns, pubs, offset, pass_wall0)
                if self.first is None:
                    raise ReplayError("the selected topics hold no messages")
                if not stopped:
                    self._report(f"pass {passes} done: {self._counted()}")
                if not loop:
                    break
                span = self.last - self.first
                period = span // max(1, max(c.msgcount for c in conns) - 1) or _NS // 10
                pass_wall0 += (span + period) / _NS / self.rate
                offset += (span + period) if restamp else 0
            _drain(waited, self.node.context)
        return ReplayStats(
            published=tuple(self.counts.items()),
            clock_published=self.clock_count,
            passes=passes,
            wall_s=time.monotonic() - wall_start,
            bag_duration_s=(self.last - (self.first or self.last)) / _NS,
            stopped=stopped,
            skipped_topics=skipped,
        )

    def _report(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)
        self.next_report = time.monotonic() + PROGRESS_S

    def _counted(self) -> str:
        return (
            f"{sum(self.counts.values())} messages published ("
            + ", ".join(f"{t}={n}" for t, n in self.counts.items())
            + ")"
        )

    def _report_start(self, reader: AnyReader, conns: list[Connection], loop: bool) -> None:
        if self.progress is None:
            return
        span_ns = max(0, reader.end_time - reader.start_time)
        topics = ", ".join(f"{c.topic} ({c.msgcount} frames)" for c in conns)
        self._report(
            f"replaying {self.bag}: {topics}, {span_ns / _NS:.1f} s a pass at rate "
            f"{self.rate:g}" + (", in a loop until Ctrl-C" if loop else "")
        )

    def _start_delay(self, pubs: list[Publisher[Any]], delay_s: float, subscribers: int) -> None:
        deadline = time.monotonic() + delay_s
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if subscribers and all(p.get_subscription_count() >= subscribers for p in pubs):
                return
            self.stop.wait(min(left, 0.02))

    def _publisher(self, conn: Connection) -> Publisher[Any]:
        cls = Image if conn.msgtype == IMAGE_TYPE else CompressedImage
        return self.node.create_publisher(cls, conn.topic, self.qos)

    def _one_pass(
        self,
        reader: AnyReader,
        conns: list[Connection],
        pubs: dict[str, Publisher[Any]],
        offset: int,
        wall0: float,
    ) -> bool:
        """Publish every message once. Returns True when stopped early."""
        for conn, stamp, raw in reader.messages(connections=conns):
            if self.first is None:
                self.first = stamp
            first = self.first
            self.last = stamp
            src = reader.deserialize(raw, conn.msgtype)
            if conn.msgtype == IMAGE_TYPE:
                msg: Image | CompressedImage = to_ros_image(src, offset)
            else:
                msg = to_ros_compressed_image(src, offset)
            if self._wait_until(wall0, first, stamp, offset):
                return True
            self._publish_clock(stamp + offset)
            pubs[conn.topic].publish(msg)
            self.counts[conn.topic] += 1
            if self.progress is not None and time.monotonic() >= self.next_report:
                self._report(f"bag time {(stamp - first) / _NS:.1f} s: {self._counted()}")
        return False

    def _wait_until(self, wall0: float, first: int, stamp: int, offset: int) -> bool:
        """Sleep until ``stamp`` is due, ticking ``/clock``. Returns True when stopped."""
        due = wall0 + (stamp - first) / _NS / self.rate
        while True:
            if self.stop.is_set() or not rclpy.ok(context=self.node.context):
                return True
            now = time.monotonic()
            if now >= due:
                return False
            step = due - now
            if self.clock_pub is not None:
                step = min(step, self.clock_period_s)
                if self.stop.wait(step):
                    return True
                bag_now = first + offset + int((time.monotonic() - wall0) * self.rate * _NS)
                if time.monotonic() < due:
                    self._publish_clock(min(bag_now, stamp + offset))
            elif self.stop.wait(step):
                return True

    def _publish_clock(self, stamp_ns: int) -> None:
        if self.clock_pub is None:
            return
        self.clock_pub.publish(Clock(clock=Time(sec=stamp_ns // _NS, nanosec=stamp_ns % _NS)))
        self.clock_count += 1
