"""Parameters, part of ``config.specs``: sampling and the thinking budget
(live; -1 = the model family's recipe)."""

from __future__ import annotations

from cosmos_reason_ros.config.param import ParamSpec, family_param
from cosmos_reason_ros.core.reasoner import DEFAULT_MAX_THINKING_S, DEFAULT_MAX_THINKING_TOKENS

SAMPLING: tuple[ParamSpec, ...] = (
    family_param("temperature", -1.0, "Sampling temperature; 0 = greedy", 0.0, 2.0),
    family_param("top_p", -1.0, "Nucleus sampling mass", 0.01, 1.0),
    family_param("top_k", -1, "Sample from the k most likely tokens; 0 = no cut", 0, 100_000),
    family_param("repetition_penalty", -1.0, "Repetition penalty", 0.5, 2.0),
    family_param(
        "presence_penalty",
        -1.0,
        "Subtracted from the logit of every token already generated",
        0.0,
        2.0,
    ),
    family_param("max_new_tokens", -1, "Generated tokens at most, thinking and answer", 16, 32768),
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
)
