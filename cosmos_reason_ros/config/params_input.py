"""Parameters, part of ``config.specs``: cameras and the frame window
(change through deactivate, cleanup, set, configure)."""

from __future__ import annotations

from cosmos_reason_ros.config.param import ParamSpec

INPUT: tuple[ParamSpec, ...] = (
    ParamSpec(
        "image_topics",
        ["/camera/image_raw"],
        "Camera topics; a name ending in /compressed carries sensor_msgs/CompressedImage",
    ),
    ParamSpec(
        "camera_names",
        [],
        "Camera label in the prompt, one per image topic in order; empty: from the topic "
        "(/front/image_raw/compressed: front)",
        to="reasoner.camera_labels",
    ),
    ParamSpec(
        "image_qos",
        "sensor_data",
        "sensor_data: best effort, depth 1 (also hears "
        "reliable publishers); reliable: reliable, depth 5",
        choices=("sensor_data", "reliable"),
    ),
    ParamSpec(
        "window_s",
        4.0,
        "Seconds of frames kept per camera",
        low=0.1,
        high=60.0,
    ),
    ParamSpec(
        "sample_fps",
        -1.0,
        "Frames per second kept; -1 = the family's (4, as Cosmos-Reason was trained)",
        low=0.1,
        high=30.0,
        family=True,
    ),
    ParamSpec(
        "max_frame_pixels",
        -1,
        "Pixel cap per kept frame; -1 = the family's (768 visual tokens: 768 * 28 * 28 for "
        "reason1, 768 * 32 * 32 for reason2)",
        low=28 * 28,
        high=4096 * 4096,
        family=True,
    ),
    ParamSpec(
        "max_total_pixels",
        -1,
        "Pixels per clip as qwen-vl-utils counts them (two frames share a token); -1 = the "
        "family's (8192 visual tokens: 8192 * 28 * 28 or 8192 * 32 * 32)",
        low=28 * 28,
        high=2**31 - 1,
        family=True,
    ),
    ParamSpec(
        "max_input_pixels",
        50_000_000,
        "Larger camera images are refused as invalid",
        low=1,
        high=2**31 - 1,
    ),
)
