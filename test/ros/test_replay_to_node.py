"""Scenario bag -> live replay -> the node -> decisions stamped with stamps from the bag.

Real rosbag2 files (written by rosbags, mcap and sqlite3), real DDS, the real tiny model.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from harness import running
from rclpy.node import Node
from spin import wait_for

from cosmos_reason_ros.ros.conversions import ns_from_time
from cosmos_reason_ros.tools.replay import replay
from cosmos_reason_ros.tools.scenario import write_scenario


@pytest.mark.parametrize("storage", ["mcap", "db3"])
def test_replayed_scenario_bag_yields_decisions_stamped_from_the_bag(
    ros_context: Any, tiny_model_dir: Path, tmp_path: Path, storage: str
) -> None:
    info = write_scenario(
        tmp_path / f"scene.{storage}", duration_s=2.0, rate_hz=8.0, width=160, height=120
    )
    bag_stamps = set(info.stamps_ns)
    with running(
        ros_context,
        tiny_model_dir,
        topics=["/camera/image_raw"],
        image_qos="reliable",
        decision_period_s=0.5,
    ) as (node, listener):
        player = Node("test_replayer", context=ros_context)
        node.executor.add_node(player)
        stats: list[Any] = []
        thread = threading.Thread(
            target=lambda: stats.append(
                replay(info.bag_path, node=player, rate=2.0, start_delay_s=5.0, min_subscribers=1)
            )
        )
        thread.start()
        thread.join(timeout=60)
        res = listener.call()
        wait_for(lambda: len(listener.actions) >= 2, 30, what="decisions on the topic")
        player.destroy_node()
    assert stats, "replay did not finish"
    assert res.success, res.message
    newest = ns_from_time(res.action.header.stamp)
    assert newest in bag_stamps
    assert newest >= max(bag_stamps) - 250_000_000  # the newest frame the 4 fps window kept
    assert ns_from_time(res.action.window_start) in bag_stamps
    published = [ns_from_time(a.header.stamp) for a in listener.actions if a.frame_count]
    assert published and set(published) <= bag_stamps
