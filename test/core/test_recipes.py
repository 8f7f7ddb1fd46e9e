"""Per-family recipes, the goal-conditioned question and camera labels.

Upstream values are written out here (not imported), so a drifting recipe fails: Reason1's
model card; Reason2's ``get_defaults`` (cosmos-reason2 @ a3b4a1d, after commit f180ea7);
qwen-vl-utils' per-frame cap; the goal sentences of ``nvidia/Cosmos-Reason1-Benchmark`` rows
(as quoted in a secondary source: the Hub dataset could not be read here).
"""

from __future__ import annotations

import numpy as np
import pytest

from cosmos_reason_ros.config.build import build_config
from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.errors import ConfigError, InputError
from cosmos_reason_ros.core.generation import SamplingSettings
from cosmos_reason_ros.core.prompts import (
    REASON2,
    camera_label,
    camera_labels,
    question_text,
    render_text,
)
from cosmos_reason_ros.core.reasoner import ReasonerConfig
from cosmos_reason_ros.core.recipes import video_frame_pixels
from cosmos_reason_ros.core.types import Clip

SPACE = ActionSpace.parse(["pick_up", "place"], "stop")
BENCHMARK_ROW = (
    'The overall goal is to "Sort electronic products". The agent in the video is currently '
    "performing one subtask out of many to complete this goal. For the agent in the video, "
    "what is the most plausible next immediate subtask from the choices below?"
)


def test_build_config_gives_each_family_its_upstream_sampling() -> None:
    r1 = build_config({"model": "nvidia/Cosmos-Reason1-7B"}).reasoner.sampling
    r2 = build_config({"model": "nvidia/Cosmos-Reason2-8B"}).reasoner.sampling
    plain = build_config({"model": "nvidia/Cosmos-Reason2-2B", "max_thinking_tokens": 0})
    assert r1 == SamplingSettings(0.6, 0.95, 1.05, 4096, None, 0, 0.0)
    assert r2 == SamplingSettings(0.6, 0.95, 1.0, 4096, 1234, 20, 0.0)
    assert plain.reasoner.sampling == SamplingSettings(0.7, 0.8, 1.0, 4096, 3407, 20, 1.5)


def test_a_set_value_overrides_only_itself_and_seed_minus_two_means_none() -> None:
    config = build_config({"model": "nvidia/Cosmos-Reason2-8B", "temperature": 0.2, "seed": -2})
    assert config.reasoner.sampling == SamplingSettings(0.2, 0.95, 1.0, 4096, None, 20, 0.0)


def test_pixel_budgets_count_the_familys_tokens() -> None:
    r1 = build_config({"model": "nvidia/Cosmos-Reason1-7B"}).window
    r2 = build_config({"model": "nvidia/Cosmos-Reason2-8B"}).window
    assert (r1.sample_fps, r1.max_total_pixels, r1.max_frame_pixels) == (4.0, 6422528, 602112)
    assert (r2.sample_fps, r2.max_total_pixels, r2.max_frame_pixels) == (4.0, 8388608, 786432)
    assert (r1.patch_multiple, r2.patch_multiple) == (28, 32)


@pytest.mark.parametrize(
    ("frames", "cap"),
    [(16, 602112), (15, 602112), (40, 321126), (100, 128450), (300, 105369)],
)
def test_per_frame_cap_is_qwen_vl_utils(frames: int, cap: int) -> None:
    """max(min(768·28², 6422528 / frames (rounded up to pairs) · 2), int(128·28² · 1.05))."""
    assert video_frame_pixels(8192 * 28 * 28, frames, 28) == cap


def test_goal_asks_upstreams_goal_conditioned_question() -> None:
    text = question_text(
        "What should the robot do next?", SPACE, ("pick_up", "place"), "Sort electronic products"
    )
    assert text.splitlines()[0] == BENCHMARK_ROW
    open_text = question_text("What should the robot do next?", SPACE, (), " Sort boxes ")
    assert open_text.splitlines()[0].endswith(
        "to complete this goal. For the agent in the video, what is the most plausible next "
        "immediate subtask?"
    )
    own = question_text("Is the bin full?", SPACE, (), "Sort boxes").splitlines()[0]
    assert own.startswith('The overall goal is to "Sort boxes".') and own.endswith(
        "complete this goal. Is the bin full?"
    )
    assert question_text("Is the bin full?", SPACE).splitlines()[0] == "Is the bin full?"


def test_goal_is_checked_like_a_question() -> None:
    config = ReasonerConfig(action_space=SPACE, max_question_chars=40)
    assert config.check_request(goal="  tidy  ").goal == "tidy"
    with pytest.raises(InputError, match="goal is 41 characters; max_question_chars is 40"):
        config.check_request(goal="x" * 41)
    with pytest.raises(InputError, match="NUL"):
        config.check_request(goal="a\x00b")
    with pytest.raises(ConfigError, match="goal is 41 characters"):
        ReasonerConfig(action_space=SPACE, max_question_chars=40, goal="x" * 41)


@pytest.mark.parametrize(
    ("topic", "label"),
    [
        ("/front/image_raw/compressed", "front"),
        ("/robot/wrist_cam/color/image_raw", "wrist_cam"),
        ("/camera/image_rect_color", "camera"),
        ("/left/rgb/image/theora", "left"),
        ("image_raw", "image_raw"),
    ],
)
def test_camera_label_is_the_name_people_give_the_camera(topic: str, label: str) -> None:
    assert camera_label(topic) == label


def test_camera_labels_are_unique_or_given() -> None:
    topics = ["/a/front/image_raw", "/b/front/image_raw", "/wrist/image_raw"]
    assert camera_labels(topics) == ("a/front/image_raw", "b/front/image_raw", "wrist")
    assert camera_labels(topics, ["left", "right", "hand"]) == ("left", "right", "hand")
    with pytest.raises(ConfigError, match="each of the 3 image topics"):
        camera_labels(topics, ["left"])
    with pytest.raises(ConfigError, match="unique and non-empty"):
        camera_labels(topics, ["x", "x", "y"])


def test_configured_camera_names_label_the_videos_in_the_prompt() -> None:
    config = build_config(
        {
            "model": "nvidia/Cosmos-Reason2-8B",
            "image_topics": ["/cam_a/image_raw", "/cam_b/image_raw/compressed"],
            "camera_names": ["overhead", "gripper"],
        }
    )
    frame = np.zeros((32, 32, 3), np.uint8)
    topics = ("/cam_a/image_raw", "/cam_b/image_raw/compressed", "/cam_c/image_raw")
    clips = [Clip(t, "f", (frame,), (1,), 4.0) for t in topics]
    labels = dict(config.reasoner.camera_labels)
    assert labels == {"/cam_a/image_raw": "overhead", "/cam_b/image_raw/compressed": "gripper"}
    text = render_text(REASON2.build_messages("Q?", clips, SPACE, labels=labels))
    assert "Camera 1: overhead\n<video clip=0>\nCamera 2: gripper\n<video clip=1>\n" in text
    assert "Camera 3: cam_c\n<video clip=2>\nQ?" in text  # not configured: from its topic


def test_a_requests_goal_overrides_the_configured_one_in_what_is_sent() -> None:
    """Through the Reasoner and the real openai backend (loopback server stand-in)."""
    from cosmos_reason_ros.config.loading import load_configured
    from cosmos_reason_ros.core.reasoner import Reasoner
    from cosmos_reason_ros.core.types import WindowSnapshot
    from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply

    model = "nvidia/Cosmos-Reason2-2B"
    frame = np.zeros((64, 64, 3), np.uint8)
    snapshot = WindowSnapshot((Clip("/camera/image_raw", "f", (frame, frame), (1, 2), 4.0),))
    reply = Reply.answer('</think>\n\n{"action": "stop"}')
    with ChatCompletionsServer(default=reply, models=(model,)) as srv:
        values = {"backend": "openai", "model": model, "base_url": srv.base_url}
        values |= {"goal": "Tidy the desk", "max_thinking_tokens": 0}
        config, backend = load_configured(values)
        try:
            reasoner = Reasoner(backend, config.reasoner)
            reasoner.decide(snapshot, decision_id=1)
            request = reasoner.validate_request(goal="Sort electronic products")
            reasoner.decide(snapshot, decision_id=2, request=request)
        finally:
            backend.close()
        texts = [r.content_parts()[-1]["text"] for r in srv.chat_requests]
    assert texts[0].startswith('The overall goal is to "Tidy the desk". The agent in the video')
    assert texts[1].startswith('The overall goal is to "Sort electronic products".')
