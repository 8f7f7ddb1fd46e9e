"""Every node parameter, declared once: name, default, description, range, whether it may
change while the node is configured (``live``) or only at launch (``launch_only``), and the
``NodeConfig`` field it sets (``to``).

Pure Python (no rclpy), so the node, the CLIs, eval, bench and the tests all read this one
table. A ``family`` parameter's default, -1, stands for the model family's upstream value
(``core.recipes``: Reason1 or Reason2, with or without thinking), resolved by ``build_config``.
Adding a parameter is one ``ParamSpec`` here (plus ``make`` regenerating
``config/reason.yaml``); ``build.build_config`` routes its value by ``to``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cosmos_reason_ros.backends.config import (
    BACKENDS,
    COMPILE_MODES,
    DEVICES,
    DTYPES,
    KV_CACHE_DTYPES,
    MAX_NUM_TOKENS_LIMIT,
    QUANTIZATIONS,
    STRUCTURED_OUTPUT_MODES,
    VIDEO_TRANSPORTS,
)
from cosmos_reason_ros.core.action_space import (
    DEFAULT_PARAMETERS,
    DEFAULT_REASON_CHARS,
    DEFAULT_TARGET_CHARS,
)
from cosmos_reason_ros.core.reasoner import DEFAULT_MAX_THINKING_S, DEFAULT_MAX_THINKING_TOKENS

Value = bool | int | float | str | list[str]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter.

    Attributes:
        name: The ROS parameter name.
        default: The default; its type is the parameter's type.
        description: One line for ``ros2 param describe`` and ``config/reason.yaml``.
        live: May change while configured (else: deactivate, cleanup, set, configure).
        launch_only: Decides what code runs, where data goes or which secret is read, so it
            is set only where the node is launched (``-p``, a params file, the launch file)
            and is read-only once the node is up: nobody on the ROS graph can change it
            (docs/security.md).
        low: Smallest value (numbers).
        high: Largest value (numbers).
        choices: The allowed values (strings).
        to: Dotted path of the ``NodeConfig`` field the value sets (``backend.model``,
            ``reasoner.sampling.top_p``); a bare name that ``build_config`` converts itself
            (``actions``, ``profile``); "" for parameters the node reads directly.
        family: -1 means "the model family's value" (``core.recipes``), besides ``low..high``.
    """

    name: str
    default: Value
    description: str
    live: bool = False
    launch_only: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    to: str = ""
    family: bool = False


def _family(
    name: str, default: float, text: str, low: float, high: float, *, live: bool = True
) -> ParamSpec:
    """A parameter whose -1 default stands for the model family's value."""
    return ParamSpec(
        name, default, text + "; -1 = the family's", live=live, low=low, high=high, family=True
    )


FALLBACK_RULE = (
    "The fallback is always a legal answer, also when it is not among the actions: the model "
    "may choose it (valid=true), and an unusable or stale answer becomes it (valid=false)"
)
"""The fallback rule, stated once: the parameter text, --help of every CLI and the README."""

DEFAULT_ACTIONS = [
    "continue: keep doing the current task",
    "slow_down: reduce speed, something needs attention",
    "stop: stop moving now",
    "move_back: back away from a hazard",
    "turn_left: steer left to avoid something",
    "turn_right: steer right to avoid something",
    "wait: hold position until the scene changes",
]

SPECS: tuple[ParamSpec, ...] = (
    # --- model and backend (change through cleanup -> configure) ---
    ParamSpec(
        "model",
        "nvidia/Cosmos-Reason1-7B",
        "Hub id or local folder of the checkpoint (openai backend: the served model name); "
        "fixed at launch while trust_remote_code is true",
    ),
    ParamSpec(
        "backend",
        "transformers",
        "Inference backend (openai: frames go to base_url)",
        choices=BACKENDS,
        launch_only=True,
    ),
    ParamSpec(
        "profile",
        "auto",
        "Prompt profile; auto picks it from the checkpoint's "
        "architecture (qwen2_5_vl: reason1, qwen3_vl: reason2)",
        choices=("auto", "reason1", "reason2"),
        to="reasoner.profile",
    ),
    ParamSpec(
        "dtype",
        "auto",
        "Weights dtype (auto: bf16 on CUDA, fp32 on CPU)",
        choices=DTYPES,
    ),
    ParamSpec("device", "auto", "Device for in-process backends", choices=DEVICES),
    ParamSpec(
        "quantization",
        "none",
        "bitsandbytes weight quantization (transformers)",
        choices=QUANTIZATIONS,
    ),
    ParamSpec(
        "trust_remote_code",
        False,
        "Run Python code shipped with the checkpoint. Off unless you trust the checkpoint; "
        "while on, model cannot change at run time and a local checkpoint folder must not be "
        "writable by others",
        launch_only=True,
    ),
    ParamSpec(
        "kv_cache_free_gpu_memory_fraction",
        0.6,
        "TensorRT-LLM: share of free GPU memory for the KV cache",
        low=0.05,
        high=1.0,
    ),
    ParamSpec(
        "kv_cache_dtype",
        "auto",
        "TensorRT-LLM: KV cache dtype",
        choices=KV_CACHE_DTYPES,
    ),
    ParamSpec(
        "max_num_tokens",
        0,
        "TensorRT-LLM: most tokens prefilled in one step; 0 = computed at configure from the "
        "cameras, window, question length and max_new_tokens",
        low=0,
        high=MAX_NUM_TOKENS_LIMIT,
    ),
    ParamSpec(
        "enable_chunked_prefill",
        False,
        "TensorRT-LLM: prefill prompts longer than max_num_tokens in chunks instead of "
        "refusing them",
    ),
    ParamSpec(
        "base_url",
        "http://localhost:8000/v1",
        "openai: the server's base URL; camera frames and the API key go there and only "
        "there (redirects are not followed)",
        launch_only=True,
    ),
    ParamSpec(
        "api_key_env",
        "OPENAI_API_KEY",
        "openai: NAME of the environment variable that "
        "holds the API key (the key itself is never a parameter)",
        launch_only=True,
    ),
    ParamSpec(
        "timeout_s",
        60.0,
        "openai: per-request timeout, seconds",
        low=0.1,
        high=3600.0,
    ),
    ParamSpec(
        "max_retries",
        2,
        "openai: retries on connection errors and 5xx",
        low=0,
        high=10,
    ),
    ParamSpec(
        "jpeg_quality",
        85,
        "openai: JPEG quality of frames sent",
        low=1,
        high=100,
    ),
    ParamSpec(
        "video_transport",
        "video",
        "openai: send each camera's clip as one video with its fps (as upstream does) or as "
        "separate images",
        choices=VIDEO_TRANSPORTS,
    ),
    ParamSpec(
        "structured_output",
        "auto",
        "openai: how the answer schema is sent as response_format: auto (a second request "
        "continues the thinking), after_reasoning (with the first, for servers with a "
        "reasoning parser), off (never)",
        choices=STRUCTURED_OUTPUT_MODES,
    ),
    ParamSpec("compile", "auto", "transformers: compiled decoding", choices=COMPILE_MODES),
    # --- cameras and window (change through cleanup -> configure) ---
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
    # --- what is asked and what may be answered (live) ---
    ParamSpec(
        "question",
        "What should the robot do next?",
        "Default question",
        live=True,
    ),
    ParamSpec(
        "goal",
        "",
        "The task's overall goal; asks upstream's goal-conditioned question (a request's goal "
        'overrides it; "" = none)',
        live=True,
    ),
    ParamSpec(
        "actions",
        DEFAULT_ACTIONS,
        "Allowed actions: 'name' or 'name: description'",
        live=True,
        to="reasoner.action_space",
    ),
    ParamSpec(
        "fallback_action",
        "stop",
        "Action published when the output is unusable. " + FALLBACK_RULE,
        live=True,
        to="reasoner.action_space",
    ),
    ParamSpec(
        "decision_period_s",
        2.0,
        "Seconds between periodic decisions; 0 = only on request",
        live=True,
        low=0.0,
        high=3600.0,
    ),
    ParamSpec(
        "max_frame_age_s",
        2.0,
        "A camera silent for longer is left out; with no fresh camera a request fails",
        live=True,
        low=0.01,
        high=3600.0,
    ),
    ParamSpec(
        "max_pending",
        2,
        "Requests that may wait while one runs",
        live=True,
        low=0,
        high=64,
    ),
    ParamSpec(
        "inference_timeout_s",
        120.0,
        "A decision taking longer fails",
        live=True,
        low=0.1,
        high=3600.0,
    ),
    ParamSpec(
        "max_question_chars",
        4000,
        "Longer questions are refused",
        live=True,
        low=1,
        high=1_000_000,
    ),
    ParamSpec(
        "max_choices",
        32,
        "More choices are refused",
        live=True,
        low=1,
        high=1000,
    ),
    ParamSpec(
        "max_reason_chars",
        DEFAULT_REASON_CHARS,
        "Length bound of the answer's reason (full bound 300)",
        live=True,
        low=1,
        high=300,
    ),
    ParamSpec(
        "max_target_chars",
        DEFAULT_TARGET_CHARS,
        "Length bound of the answer's target (full bound 128)",
        live=True,
        low=1,
        high=128,
    ),
    ParamSpec(
        "max_parameters",
        DEFAULT_PARAMETERS,
        "Most key/value parameters in an answer (full bound 8)",
        live=True,
        low=0,
        high=8,
    ),
    ParamSpec(
        "publish_on_failure",
        True,
        "When a periodic decision fails, publish a valid=false fallback (true) or nothing (false)",
        live=True,
    ),
    ParamSpec(
        "debug_image",
        True,
        "Publish ~/debug_image (only while someone subscribes)",
        live=True,
    ),
    # --- sampling (live; -1 = the family's recipe, with or without thinking) ---
    _family("temperature", -1.0, "Sampling temperature; 0 = greedy", 0.0, 2.0),
    _family("top_p", -1.0, "Nucleus sampling mass", 0.01, 1.0),
    _family("top_k", -1, "Sample from the k most likely tokens; 0 = no cut", 0, 100_000),
    _family("repetition_penalty", -1.0, "Repetition penalty", 0.5, 2.0),
    _family(
        "presence_penalty",
        -1.0,
        "Subtracted from the logit of every token already generated",
        0.0,
        2.0,
    ),
    _family("max_new_tokens", -1, "Generated tokens at most, thinking and answer", 16, 32768),
    ParamSpec(
        "max_thinking_tokens",
        DEFAULT_MAX_THINKING_TOKENS,
        "Thinking budget in tokens; then the answer is forced (whichever of this and "
        "max_thinking_s comes first ends the thinking)",
        live=True,
        low=0,
        high=32768,
    ),
    ParamSpec(
        "max_thinking_s",
        DEFAULT_MAX_THINKING_S,
        "Thinking deadline, seconds after generation starts; then the answer is forced "
        "(0 = no deadline)",
        live=True,
        low=0.0,
        high=3600.0,
    ),
    ParamSpec(
        "seed",
        -1,
        "Sampling seed; -1 = the family's (reason2: fixed, reason1: none); -2 = none (random)",
        live=True,
        low=-2,
        high=2**31 - 1,
        family=True,
    ),
    ParamSpec(
        "constrained_decoding",
        True,
        "Constrain the answer to the JSON schema where the backend can",
        live=True,
        to="reasoner.constrained",
    ),
    # --- node ---
    ParamSpec(
        "diagnostics_period_s",
        1.0,
        "Seconds between /diagnostics messages",
        low=0.1,
        high=60.0,
    ),
    ParamSpec(
        "autostart",
        True,
        "Configure and activate on start; false: a lifecycle manager drives the node",
    ),
)

SPEC_BY_NAME: dict[str, ParamSpec] = {s.name: s for s in SPECS}
