"""``NodeConfig``: everything the node runs on, and the declarations of the parameters that only
the node reads (cameras, triggers, queue, outputs).

Its sections (``backend``, ``window``, ``reasoner`` with ``reasoner.sampling``) declare their own
parameters on their fields (``core.params``); ``config.specs`` walks this class, in field order,
into the parameter table.
"""

from __future__ import annotations

from dataclasses import dataclass

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.core.action_space import DEFAULT_ACTIONS, FALLBACK_RULE
from cosmos_reason_ros.core.alert_judge import check_judgment_room
from cosmos_reason_ros.core.alerts import AlertRule, check_rule_names
from cosmos_reason_ros.core.architecture import Architecture
from cosmos_reason_ros.core.decoding import MAX_SOURCE_PIXELS
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.ingest import MAX_CAMERAS
from cosmos_reason_ros.core.params import check_fields, param
from cosmos_reason_ros.core.reasoner import ReasonerConfig
from cosmos_reason_ros.core.window import WindowConfig

__all__ = ["NodeConfig"]


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """Everything the node runs on, typed, validated and final (made by ``build_config``).

    Attributes:
        architecture: The checkpoint's architecture and what decided it.
        backend: Settings of the model backend.
        window: Frame windows; ``patch_multiple`` is the profile's.
        reasoner: What is asked and how; ``profile`` is resolved (never ``auto``), and
            ``action_space`` is parsed from ``actions`` and ``fallback_action``.
        alert_rules: The rules named by ``alerts``, in order, from their
            ``alerts.<name>.*`` parameters (``config.alert_rules``).
    """

    architecture: Architecture
    backend: BackendConfig
    image_topics: tuple[str, ...] = param(
        ("/camera/image_raw",),
        "Camera topics; a name ending in /compressed carries sensor_msgs/CompressedImage",
    )
    camera_names: tuple[str, ...] = param(
        (),
        "Camera label in the prompt, one per image topic in order; empty: from the topic "
        "(/front/image_raw/compressed: front)",
    )
    image_qos: str = param(
        "sensor_data",
        "sensor_data: best effort, depth 1 (also hears reliable publishers); reliable: "
        "reliable, depth 5",
        choices=("sensor_data", "reliable"),
    )
    max_input_pixels: int = param(
        50_000_000,
        "Larger camera images are refused as invalid (PNG, raw and progressive JPEG frames "
        "also above 4096x4096: a ceiling no parameter lifts)",
        low=1,
        high=MAX_SOURCE_PIXELS,
    )
    window: WindowConfig
    reasoner: ReasonerConfig
    actions: tuple[str, ...] = param(
        tuple(DEFAULT_ACTIONS), "Allowed actions: 'name' or 'name: description'", live=True
    )
    fallback_action: str = param(
        "stop", "Action published when the output is unusable. " + FALLBACK_RULE, live=True
    )
    decision_period_s: float = param(
        2.0,
        "Seconds between periodic decisions; 0 = only on request",
        live=True,
        low=0.0,
        high=3600.0,
    )
    max_frame_age_s: float = param(
        2.0,
        "A camera with no usable frame for longer is left out (stale); with no fresh camera a "
        "request fails",
        live=True,
        low=0.01,
        high=3600.0,
    )
    max_pending: int = param(2, "Requests that may wait while one runs", live=True, low=0, high=64)
    inference_timeout_s: float = param(
        120.0,
        "A request not decided this long after it arrived (queue wait included) fails",
        live=True,
        low=0.1,
        high=3600.0,
    )
    publish_on_failure: bool = param(
        True,
        "When a periodic decision fails, publish a valid=false fallback (true) or nothing (false)",
        live=True,
    )
    debug_image: bool = param(
        True, "Publish ~/debug_image (only while someone subscribes)", live=True
    )
    diagnostics_period_s: float = param(
        1.0, "Seconds between /diagnostics messages", low=0.1, high=60.0
    )
    alerts: tuple[str, ...] = param(
        (),
        "Alert rule names, each set by alerts.<name>.condition|severity|cooldown_s|"
        "min_consecutive|clear_after; empty = no alerts",
    )
    alert_period_s: float = param(
        1.0, "Seconds between judgments of the alert rules", low=0.05, high=3600.0
    )
    alert_rules: tuple[AlertRule, ...] = ()
    autostart: bool = param(
        True, "Configure and activate on start; false: a lifecycle manager drives the node"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        check_rule_names(self.alerts)
        if tuple(r.name for r in self.alert_rules) != self.alerts:
            raise ConfigError("alert_rules must hold one rule per name in alerts, in order")
        check_judgment_room(self.reasoner, self.alert_rules)
        topics = self.image_topics
        if not topics or any(not t.strip() for t in topics):
            raise ConfigError(f"image_topics must name at least one topic, got {list(topics)!r}")
        if len(set(topics)) != len(topics):
            raise ConfigError(f"image_topics has duplicates: {list(topics)!r}")
        if len(topics) > MAX_CAMERAS:
            raise ConfigError(
                f"image_topics names {len(topics)} topics; one node watches at most {MAX_CAMERAS}"
            )
