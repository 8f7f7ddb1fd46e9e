"""Parameters, part of ``config.specs``: what is asked and what may be
answered, and when decisions are made (live)."""

from __future__ import annotations

from cosmos_reason_ros.config.param import ParamSpec
from cosmos_reason_ros.core.action_space import (
    DEFAULT_ACTIONS,
    DEFAULT_PARAMETERS,
    DEFAULT_REASON_CHARS,
    DEFAULT_TARGET_CHARS,
    FALLBACK_RULE,
)

ANSWER: tuple[ParamSpec, ...] = (
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
)
