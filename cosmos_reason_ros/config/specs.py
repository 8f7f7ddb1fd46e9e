"""Every node parameter, declared once: name, default, description, range, whether it may
change while the node is configured (``live``) or only at launch (``launch_only``), and the
``NodeConfig`` field it sets (``to``).

Pure Python (no rclpy), so the node, the CLIs, eval, bench and the tests all read this one
table. Adding a parameter is one ``ParamSpec`` here (plus ``make`` regenerating
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
        "images",
        "openai: send a clip as images or one video",
        choices=VIDEO_TRANSPORTS,
    ),
    ParamSpec(
        "structured_output",
        "auto",
        "openai: send the answer schema as response_format: auto (only when "
        "max_thinking_tokens is 0), after_reasoning (servers with a reasoning parser), off",
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
        4.0,
        "Frames per second kept (Cosmos-Reason was trained at 4)",
        low=0.1,
        high=30.0,
    ),
    ParamSpec(
        "max_frame_pixels",
        448 * 448,
        "Pixel cap per kept frame",
        low=28 * 28,
        high=4096 * 4096,
    ),
    ParamSpec(
        "max_total_pixels",
        8192 * 28 * 28,
        "Pixel cap per clip, all frames together (Cosmos recipe: 8192 * 28 * 28)",
        low=28 * 28,
        high=2**31 - 1,
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
    # --- sampling (live) ---
    ParamSpec(
        "temperature",
        0.6,
        "Sampling temperature; 0 = greedy",
        live=True,
        low=0.0,
        high=2.0,
    ),
    ParamSpec(
        "top_p",
        0.95,
        "Nucleus sampling mass",
        live=True,
        low=0.01,
        high=1.0,
    ),
    ParamSpec(
        "repetition_penalty",
        1.05,
        "Repetition penalty",
        live=True,
        low=0.5,
        high=2.0,
    ),
    ParamSpec(
        "max_new_tokens",
        1024,
        "Generated tokens at most, thinking and answer",
        live=True,
        low=16,
        high=32768,
    ),
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
        "Sampling seed; -1 = random",
        live=True,
        low=-1,
        high=2**31 - 1,
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
