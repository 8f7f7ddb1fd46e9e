"""Turning whatever a model generated into a validated answer, or a reasoned refusal.

``parse_answer`` never raises and never yields an action outside the action space: output that
cannot be used gives the fallback action, ``valid=False`` and a reason saying what was wrong
("no <answer> tag", "unknown action 'x'", "confidence 7 out of [0, 1]", …).

Text caps (characters): ``RAW_TEXT_MAX_CHARS`` for the raw text kept in a decision,
``THINKING_MAX_CHARS`` for the chain of thought, ``ANSWER_MAX_CHARS`` for the answer text.
Longer text is cut and ends with a ``…[N more characters]`` marker.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from cosmos_reason_ros.core.action_space import (
    MAX_PARAMETER_KEY_CHARS,
    MAX_PARAMETER_VALUE_CHARS,
    MAX_PARAMETERS,
    MAX_REASON_CHARS,
    MAX_TARGET_CHARS,
    ActionSpace,
)
from cosmos_reason_ros.core.prompts import PromptProfile

RAW_TEXT_MAX_CHARS = 65536
"""Most characters of generated text kept in a decision's ``raw_text``."""

THINKING_MAX_CHARS = 32768
"""Most characters of the chain of thought kept."""

ANSWER_MAX_CHARS = 8192
"""Most characters of the answer text kept and searched for the JSON object."""

_MAX_OBJECT_STARTS = 64  # '{' positions tried before giving up: bounds the work on noise
_SNIPPET_CHARS = 40  # of model text quoted in an error message
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_OPTION = re.compile(r"\(?([A-Z]{1,2})\)?(?:[.:)]?\s+(.*))?", re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    """A parsed and validated model answer.

    Attributes:
        thinking: The chain of thought (capped).
        answer_text: The final answer part as generated (capped).
        action: An allowed action; the fallback when ``valid`` is false.
        target: What the action applies to; "" if none.
        parameters: Further arguments as (key, value) pairs.
        confidence: 0..1; NaN when unknown.
        reason: The model's one-sentence rationale, or what was wrong with the output.
        valid: Whether the answer parsed and validated.
        error: What was wrong ("" when valid).
    """

    thinking: str
    answer_text: str
    action: str
    target: str
    parameters: tuple[tuple[str, str], ...]
    confidence: float
    reason: str
    valid: bool
    error: str


def printable(text: str) -> str:
    """``text`` without NUL and other control characters (tab, newline, carriage return kept)
    and with lone surrogates replaced. Character by character, so the pieces of a stream
    cleaned one by one join to the whole text cleaned at once."""
    return _CONTROL.sub("", text.encode("utf-8", "replace").decode("utf-8", "replace"))


def clean_text(text: object, max_chars: int) -> str:
    """``text`` as clean UTF-8-safe text of at most about ``max_chars`` characters.

    Removes NUL and other control characters (keeps tab, newline, carriage return), replaces
    lone surrogates, and cuts overlong text with a ``…[N more characters]`` marker.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = printable(text)
    if len(text) > max_chars:
        text = f"{text[:max_chars]}…[{len(text) - max_chars} more characters]"
    return text


def parse_answer(
    raw_text: str,
    profile: PromptProfile,
    action_space: ActionSpace,
    *,
    multiple_choice: bool = False,
) -> ParsedAnswer:
    """Parse what the model generated into a validated answer. Never raises.

    Args:
        raw_text: Everything the model generated.
        profile: The prompt profile the model was asked with (where the answer lies).
        action_space: The allowed actions (restricted to the choices for multiple choice).
        multiple_choice: Also accept an option letter (``A``, ``(A)``) or the option text,
            as the whole answer or as the JSON ``action``.

    Returns:
        The answer; ``valid`` false (fallback action, reason says why) when unusable.
    """
    text = clean_text(raw_text, RAW_TEXT_MAX_CHARS)
    thinking, answer, error = _split(text, profile)
    thinking = clean_text(thinking.strip(), THINKING_MAX_CHARS)
    answer = clean_text(answer.strip(), ANSWER_MAX_CHARS)
    if not error and not answer:
        error = "empty answer"
    if error:
        return _invalid(thinking, answer, action_space, error)
    try:
        return _validate(thinking, answer, action_space, multiple_choice)
    except ValidationError as exc:
        return _invalid(thinking, answer, action_space, _describe(exc, multiple_choice))
    except (ValueError, TypeError, RecursionError) as exc:  # hostile input the checks missed
        return _invalid(thinking, answer, action_space, f"unusable answer ({exc!s:.80})")


def parse_constrained_answer(
    thinking: str,
    answer_json: str,
    action_space: ActionSpace,
    *,
    multiple_choice: bool = False,
) -> ParsedAnswer:
    """Validate an answer whose JSON span the backend reported exactly. Never raises.

    No text is searched: ``answer_json`` is the object as the constrained decoder produced it,
    and ``thinking`` the thinking before it.

    Args:
        thinking: The thinking as generated.
        answer_json: The JSON object as generated.
        action_space: The allowed actions (restricted to the choices for multiple choice).
        multiple_choice: Also accept an option letter as the JSON ``action``.

    Returns:
        The answer; ``valid`` false (fallback action, reason says why) when unusable.
    """
    thinking = clean_text(thinking.strip(), THINKING_MAX_CHARS)
    answer = clean_text(answer_json.strip(), ANSWER_MAX_CHARS)
    try:
        obj = json.loads(answer)
    except (ValueError, RecursionError) as exc:
        return _invalid(thinking, answer, action_space, f"the answer is not JSON ({exc!s:.60})")
    if not isinstance(obj, dict):
        return _invalid(thinking, answer, action_space, "the answer is not a JSON object")
    try:
        return _validated_object(thinking, answer, obj, action_space, multiple_choice)
    except ValidationError as exc:
        return _invalid(thinking, answer, action_space, _describe(exc, multiple_choice))
    except (ValueError, TypeError) as exc:  # hostile input the checks missed
        return _invalid(thinking, answer, action_space, f"unusable answer ({exc!s:.80})")


def _validate(
    thinking: str, answer: str, space: ActionSpace, multiple_choice: bool
) -> ParsedAnswer:
    """Validates the JSON object in ``answer``. Raises ``ValidationError`` when it is unusable."""
    obj = _first_object(answer)
    if obj is None:
        if multiple_choice:
            return _option_answer(thinking, answer, space)
        return _invalid(thinking, answer, space, "no JSON object in the answer")
    return _validated_object(thinking, answer, obj, space, multiple_choice)


def _validated_object(
    thinking: str, answer: str, obj: dict[str, Any], space: ActionSpace, multiple_choice: bool
) -> ParsedAnswer:
    """The answer ``obj`` validated against ``space``. Raises ``ValidationError``."""
    if isinstance(obj.get("action"), str):
        obj["action"] = _resolve_action(obj["action"], space, multiple_choice)
    data = _answer_model(space.answer_names).model_validate(obj).model_dump()
    return ParsedAnswer(
        thinking=thinking,
        answer_text=answer,
        action=data["action"],
        target=data["target"],
        parameters=tuple(data["parameters"].items()),
        confidence=math.nan if data["confidence"] is None else float(data["confidence"]),
        reason=data["reason"],
        valid=True,
        error="",
    )


def _split(text: str, profile: PromptProfile) -> tuple[str, str, str]:
    """(thinking, answer part, error) of ``text`` under ``profile``'s layout."""
    end = text.find(profile.think_end)
    stripped = text.lstrip()
    if end >= 0:
        thinking, rest = text[:end], text[end + len(profile.think_end) :]
        thinking = thinking.lstrip()
        if thinking.startswith(profile.think_start):
            thinking = thinking[len(profile.think_start) :]
    elif stripped.startswith(profile.think_start):
        thinking, rest = stripped[len(profile.think_start) :], ""
        if profile.answer_open and profile.answer_open in thinking:
            thinking, _, answer = thinking.partition(profile.answer_open)
            rest = profile.answer_open + answer
    else:
        thinking, rest = "", text
    if profile.answer_open:
        before, found, answer = rest.partition(profile.answer_open)
        if not found:
            if not rest.strip() and end < 0 and thinking:
                return thinking, "", f"unclosed {profile.think_start}: no answer"
            return thinking, before, f"no {profile.answer_open} tag"
        answer, _, _ = answer.partition(profile.answer_close)
        return thinking, answer, ""
    if end < 0 and thinking:
        return thinking, "", f"unclosed {profile.think_start}: no answer"
    if not rest.strip() and end >= 0:
        return thinking, "", f"no answer after {profile.think_end}"
    return thinking, _unwrapped(rest, profile), ""


def _unwrapped(answer: str, profile: PromptProfile) -> str:
    """``answer`` without the optional wrapper the profile accepts (Cosmos 3 served by NIM:
    ``<answer>…</answer>`` after ``</think>``); as it is when the wrapper is absent."""
    if not profile.optional_answer_tags:
        return answer
    open_tag, close_tag = profile.optional_answer_tags
    _, found, inner = answer.partition(open_tag)
    if not found:
        return answer
    inner, _, _ = inner.partition(close_tag)
    return inner


def _first_object(answer: str) -> dict[str, Any] | None:
    """The first JSON object in ``answer`` (fenced or not) with an ``action`` key.

    Without one, the first JSON object (so validation can say what it lacks); None if none.
    """
    decoder = json.JSONDecoder()
    first: dict[str, Any] | None = None
    start = answer.find("{")
    tries = 0
    while start >= 0 and tries < _MAX_OBJECT_STARTS:
        tries += 1
        try:
            value, end = decoder.raw_decode(answer, start)
        except (ValueError, RecursionError):
            value, end = None, start + 1
        if isinstance(value, dict):
            if "action" in value:
                return value
            first = value if first is None else first
        start = answer.find("{", max(end, start + 1) if isinstance(value, dict) else start + 1)
    return first


def _resolve_action(value: str, space: ActionSpace, multiple_choice: bool) -> str:
    """The allowed action ``value`` names (case-insensitive; letters for multiple choice).

    Returns ``value`` unchanged when it names none, so validation reports it.
    """
    names = space.answer_names
    text = value.strip().strip("\"'`*.").strip()
    if text in names:
        return text
    folded = {n.casefold(): n for n in names}
    if text.casefold() in folded:
        return folded[text.casefold()]
    if multiple_choice:
        match = _OPTION.fullmatch(text)
        if match:
            index = _option_index(match.group(1))
            if 0 <= index < len(space.actions):
                return space.actions[index].name
        for spec in space.actions:
            if text.casefold().startswith(spec.name.casefold() + ":"):
                return spec.name
    return value


def _option_index(label: str) -> int:
    index = 0
    for char in label:
        index = index * 26 + (ord(char) - ord("A") + 1)
    return index - 1


def _option_answer(thinking: str, answer: str, space: ActionSpace) -> ParsedAnswer:
    """A multiple-choice answer given as a letter or an option instead of a JSON object."""
    first_line = answer.strip().splitlines()[0].strip()
    action = _resolve_action(first_line, space, multiple_choice=True)
    if action not in space.answer_names:
        return _invalid(
            thinking,
            answer,
            space,
            f"answer {first_line[:_SNIPPET_CHARS]!r} is neither a JSON object nor an option",
        )
    return ParsedAnswer(
        thinking=thinking,
        answer_text=answer,
        action=action,
        target="",
        parameters=(),
        confidence=math.nan,
        reason=f"chose option {first_line[:_SNIPPET_CHARS]}",
        valid=True,
        error="",
    )


def _invalid(thinking: str, answer: str, space: ActionSpace, error: str) -> ParsedAnswer:
    return ParsedAnswer(
        thinking=thinking,
        answer_text=answer,
        action=space.fallback,
        target="",
        parameters=(),
        confidence=math.nan,
        reason=f"invalid model output: {error}",
        valid=False,
        error=error,
    )


def _cap(limit: int) -> AfterValidator:
    return AfterValidator(lambda s: s[:limit])


@functools.lru_cache(maxsize=64)
def _answer_model(names: tuple[str, ...]) -> type[BaseModel]:
    """A pydantic model of the answer object whose ``action`` must be one of ``names``.

    Lenient where leniency is safe: extra keys are ignored, missing target / parameters /
    reason default to empty, a missing confidence is unknown (NaN), numbers in parameters
    become strings, overlong strings are cut. Strict on the action, the confidence range and
    the parameter count.
    """
    return create_model(
        "ModelAnswer",
        __config__=ConfigDict(extra="ignore", coerce_numbers_to_str=True, allow_inf_nan=False),
        action=(Literal[names], ...),  # type: ignore[arg-type]
        target=(Annotated[str, _cap(MAX_TARGET_CHARS)], ""),
        parameters=(
            dict[
                Annotated[str, _cap(MAX_PARAMETER_KEY_CHARS)],
                Annotated[str, _cap(MAX_PARAMETER_VALUE_CHARS)],
            ],
            Field(default_factory=dict, max_length=MAX_PARAMETERS),
        ),
        confidence=(Annotated[float, Field(ge=0.0, le=1.0, strict=True)] | None, None),
        reason=(Annotated[str, _cap(MAX_REASON_CHARS)], ""),
    )


def _describe(exc: ValidationError, multiple_choice: bool) -> str:
    """One short sentence for the first problem ``exc`` reports."""
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"])
    given = err.get("input")
    shown = repr(given[:_SNIPPET_CHARS] if isinstance(given, str) else given)[:_SNIPPET_CHARS]
    kind = err["type"]
    message = f"{loc or 'answer'}: {err['msg']}"
    if kind == "missing":
        message = f"missing key {loc!r}"
    elif loc == "action":
        where = "among the choices" if multiple_choice else "an allowed action"
        message = f"unknown action {shown}: not {where}"
    elif loc == "confidence":
        in_range = kind in ("greater_than_equal", "less_than_equal", "finite_number")
        message = f"confidence {shown} " + ("out of [0, 1]" if in_range else "is not a number")
    elif kind == "model_type":
        message = "the answer is not a JSON object"
    return message
