"""``cosmos-reason-replay``: the command line of ``tools.replay``.

    cosmos-reason-replay /tmp/ball --rate 0.5 --loop --clock

Ctrl-C or SIGTERM stops playback cleanly: reliable subscribers are still waited for, the
summary line is printed, and the exit status (``tools.exits``) is 0 with ``--loop`` (its only
way to end) or 130 for a single pass cut short; 2 for a bag or settings it cannot play.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import rclpy
from rclpy.node import Node

from cosmos_reason_ros.exits import ExitCode, exit_epilog
from cosmos_reason_ros.ros import process
from cosmos_reason_ros.tools.bags import BagError
from cosmos_reason_ros.tools.options import HelpFormatter, add_progress_option, split_list
from cosmos_reason_ros.tools.replay import QOS_CHOICES, ReplayError, replay


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cosmos-reason-replay",
        description="Publish a bag's sensor_msgs/Image and CompressedImage topics with their "
        "recorded timing (rosbag2 mcap/sqlite3, a bare .mcap file or ROS 1; no ros2 bag needed). "
        "Ctrl-C or SIGTERM "
        "stops it cleanly: reliable subscribers still get what was published.",
        epilog=exit_epilog(
            {
                ExitCode.OK: "done, or stopped with --loop",
                ExitCode.INPUT: "a bag or settings it cannot play",
                ExitCode.INTERRUPTED: "a single pass cut short by Ctrl-C or SIGTERM",
            }
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "bag",
        type=Path,
        help="rosbag2 directory (or a file in it, or OUT.mcap), bare .mcap file or ROS 1 .bag",
    )
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--loop", action="store_true", help="start over at the end, until Ctrl-C")
    p.add_argument("--clock", action="store_true", help="publish /clock (for use_sim_time)")
    p.add_argument("--clock-hz", type=float, default=40.0, help="/clock rate between frames")
    p.add_argument(
        "--topics", default="", help="comma-separated image topics (default: every image topic)"
    )
    p.add_argument("--qos", choices=QOS_CHOICES, default="reliable", help="publishers' QoS")
    p.add_argument(
        "--start-delay",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds to wait for subscribers before the first message",
    )
    p.add_argument(
        "--wait-subscribers",
        type=int,
        default=0,
        metavar="N",
        help="end the start delay early once every topic (and /clock) has N subscribers",
    )
    p.add_argument(
        "--loop-keep-stamps",
        action="store_true",
        help="with --loop, repeat the recorded stamps instead of shifting them",
    )
    add_progress_option(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``cosmos-reason-replay``. Returns the exit status."""
    args = _parser().parse_args(argv)
    process.init()
    with process.StopSignals() as stop:
        node = Node("cosmos_reason_replay")
        try:
            stats = replay(
                args.bag,
                rate=args.rate,
                loop=args.loop,
                clock=args.clock,
                topics=split_list(args.topics) or None,
                qos=args.qos,
                node=node,
                start_delay_s=args.start_delay,
                min_subscribers=args.wait_subscribers,
                stop_event=stop.event,
                clock_hz=args.clock_hz,
                restamp_loops=not args.loop_keep_stamps,
                progress=None if args.no_progress else _progress,
            )
        except (ReplayError, BagError) as err:
            print(f"cosmos-reason-replay: error: {err}", file=sys.stderr)
            return ExitCode.INPUT
        finally:
            node.destroy_node()
            rclpy.try_shutdown()
    counts = ", ".join(f"{t}={n}" for t, n in stats.published)
    print(
        f"published {stats.total} messages ({counts}), /clock={stats.clock_published}, "
        f"passes={stats.passes}, wall_s={stats.wall_s:.2f}"
        + (
            f"; skipped non-image topics: {', '.join(stats.skipped_topics)}"
            if stats.skipped_topics
            else ""
        )
        + (f"; stopped by {stop.name}" if stop.is_set() else "")
    )
    if stop.is_set() and not args.loop:
        return ExitCode.INTERRUPTED
    return ExitCode.OK


def _progress(line: str) -> None:
    print(f"cosmos-reason-replay: {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
