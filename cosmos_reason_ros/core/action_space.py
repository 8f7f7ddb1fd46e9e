"""The allowed actions: what a planner may receive, and the JSON schema of the model's answer.

The action space is the only source of actions a planner can receive. The fallback action is
always a legal output (it is what an invalid or stale decision carries), even when it is not
among the configured entries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from cosmos_reason_ros.core.errors import ConfigError, InputError

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

MAX_NAME_CHARS = 64
"""Longest allowed action name."""

MAX_DESCRIPTION_CHARS = 200
"""Longest allowed one-line action description."""

MAX_ACTIONS = 128
"""Most actions one action space may hold."""

MAX_TARGET_CHARS = 128
MAX_REASON_CHARS = 300
MAX_PARAMETERS = 8
"""The full bounds of the answer object; the defaults below are what a planner needs."""

DEFAULT_TARGET_CHARS = 64
DEFAULT_REASON_CHARS = 160
DEFAULT_PARAMETERS = 4
"""Default answer bounds: one reason sentence, a short target, a handful of parameters, so an
answer costs tens of tokens rather than hundreds (strings may run to their bound)."""
MAX_PARAMETER_KEY_CHARS = 32
MAX_PARAMETER_VALUE_CHARS = 64


@dataclass(frozen=True)
class ActionSpec:
    """One allowed action.

    Attributes:
        name: The action name a planner receives, e.g. ``move_forward``.
        description: One line telling the model what the action means; may be empty.
    """

    name: str
    description: str = ""


@dataclass(frozen=True)
class ActionSpace:
    """The allowed actions and the fallback action.

    Build it with ``ActionSpace.parse``, which validates the entries.

    Attributes:
        actions: The configured actions, in prompt order.
        fallback: The action an unusable decision carries. Always a legal output.
        fallback_is_answer: Whether the model may answer the fallback itself when it is not
            among ``actions``. True for a configured action space; false for one restricted to
            multiple-choice options that leave the fallback out.
    """

    actions: tuple[ActionSpec, ...]
    fallback: str
    fallback_is_answer: bool = True

    @classmethod
    def parse(cls, entries: Sequence[str], fallback: str) -> ActionSpace:
        """Build an action space from ``"name"`` or ``"name: one-line description"`` entries.

        Args:
            entries: The configured actions.
            fallback: The fallback action; added as a legal output if not among ``entries``.

        Returns:
            The validated action space.

        Raises:
            ConfigError: An entry or the fallback is empty, too long, not printable, or a
                duplicate; or there are no entries or too many.
        """
        if isinstance(entries, str):
            raise ConfigError("actions must be a list of strings, got a single string")
        if not entries:
            raise ConfigError("actions must name at least one action")
        if len(entries) > MAX_ACTIONS:
            raise ConfigError(f"actions holds {len(entries)} entries; the limit is {MAX_ACTIONS}")
        specs: list[ActionSpec] = []
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            if not isinstance(entry, str):
                raise ConfigError(f"actions[{index}] must be a string, got {type(entry).__name__}")
            name, _, description = entry.partition(":")
            name, description = name.strip(), " ".join(description.split())
            _check_name(name, f"actions[{index}] ({entry[:80]!r})")
            if len(description) > MAX_DESCRIPTION_CHARS:
                raise ConfigError(
                    f"actions[{index}]: the description of {name!r} is {len(description)} "
                    f"characters; the limit is {MAX_DESCRIPTION_CHARS}"
                )
            if name in seen:
                raise ConfigError(f"actions[{index}]: duplicate action {name!r}")
            seen.add(name)
            specs.append(ActionSpec(name, description))
        if not isinstance(fallback, str):
            raise ConfigError(f"fallback action must be a string, got {type(fallback).__name__}")
        fallback = fallback.strip()
        _check_name(fallback, "fallback action")
        return cls(tuple(specs), fallback)

    @property
    def names(self) -> tuple[str, ...]:
        """Every legal output: the actions in order, then the fallback if not among them."""
        names = tuple(a.name for a in self.actions)
        return names if self.fallback in names else (*names, self.fallback)

    @property
    def answer_names(self) -> tuple[str, ...]:
        """The actions a valid model answer may name (the JSON schema's enum)."""
        return self.names if self.fallback_is_answer else tuple(a.name for a in self.actions)

    def description_of(self, name: str) -> str:
        """The description of action ``name``; "" when it has none or is not configured."""
        return next((a.description for a in self.actions if a.name == name), "")

    def restricted_to(self, choices: Sequence[str], max_choices: int) -> ActionSpace:
        """The action space restricted to ``choices`` (a multiple-choice question).

        The fallback stays the fallback. It is a valid answer only if it is one of the choices.

        Args:
            choices: Allowed actions, in option order.
            max_choices: Most choices allowed.

        Returns:
            An action space whose actions are ``choices``, with their descriptions.

        Raises:
            InputError: Choices are empty strings, duplicates, not allowed actions, or too many.
        """
        if isinstance(choices, str):
            raise InputError("choices must be a list of action names, got a single string")
        if not choices:
            raise InputError("choices is empty; pass no choices to use the whole action space")
        if len(choices) > max_choices:
            raise InputError(f"{len(choices)} choices given; the limit is {max_choices}")
        empty = [i for i, c in enumerate(choices) if not isinstance(c, str) or not c.strip()]
        if empty:
            raise InputError(f"choices {empty} are empty; each choice must name an action")
        stripped = [c.strip() for c in choices]
        duplicates = sorted({c for c in stripped if stripped.count(c) > 1})
        if duplicates:
            raise InputError(f"duplicate choices: {', '.join(map(repr, duplicates))}")
        legal = self.names
        unknown = [c for c in stripped if c not in legal]
        if unknown:
            raise InputError(
                f"choices {', '.join(repr(c[:80]) for c in unknown)} are not allowed actions; "
                f"allowed: {', '.join(legal)}"
            )
        specs = tuple(ActionSpec(c, self.description_of(c)) for c in stripped)
        return replace(self, actions=specs, fallback_is_answer=self.fallback in stripped)

    def answer_schema(
        self,
        *,
        max_target_chars: int = DEFAULT_TARGET_CHARS,
        max_reason_chars: int = DEFAULT_REASON_CHARS,
        max_parameters: int = DEFAULT_PARAMETERS,
        max_parameter_key_chars: int = MAX_PARAMETER_KEY_CHARS,
        max_parameter_value_chars: int = MAX_PARAMETER_VALUE_CHARS,
    ) -> dict[str, Any]:
        """The JSON schema of the answer object, friendly to xgrammar.

        Every key is required and no others are allowed; strings, the parameter count and the
        confidence are bounded, so constrained decoding cannot run away.

        Returns:
            A JSON schema (a fresh dict; callers may modify it).
        """
        return {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": list(self.answer_names)},
                "target": {"type": "string", "maxLength": max_target_chars},
                "parameters": {
                    "type": "object",
                    "propertyNames": {"maxLength": max_parameter_key_chars},
                    "additionalProperties": {
                        "type": "string",
                        "maxLength": max_parameter_value_chars,
                    },
                    "maxProperties": max_parameters,
                },
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "reason": {"type": "string", "maxLength": max_reason_chars},
            },
            "required": ["action", "target", "parameters", "confidence", "reason"],
            "additionalProperties": False,
        }


def _check_name(name: str, what: str) -> None:
    if not name:
        raise ConfigError(f"{what}: the action name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise ConfigError(
            f"{what}: the action name is {len(name)} characters; the limit is {MAX_NAME_CHARS}"
        )
    if not name.isprintable() or '"' in name or "\\" in name:
        raise ConfigError(
            f"{what}: the action name {name!r} must be printable, without quotes or backslashes"
        )


CLOSING_SLACK_BYTES = 8
"""Bytes beyond the shortest answer that closing it may take from any point inside it: the rest
of a half-written UTF-8 character, an escape, a parameter key's colon and empty value."""


def shortest_answer_bytes(schema: dict[str, Any]) -> int:
    """Bytes enough to complete an answer of ``schema`` from any point inside it.

    The shortest object of the schema (every required key, empty strings and optional objects,
    numbers 0, booleans ``false``, the longest name of an enum such as the action's), plus
    ``CLOSING_SLACK_BYTES``. A constrained decoder that steers to close the object emits at
    least one byte per token, so this also bounds the tokens closing takes. Nested required
    objects count whole: an alert judgment's ``rules`` object holds a verdict per rule.
    """
    text = json.dumps(_shortest_value(schema), ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8")) + CLOSING_SLACK_BYTES


def _shortest_value(spec: dict[str, Any]) -> Any:
    """The shortest value ``spec`` (a JSON schema) allows, by the rules above."""
    if "enum" in spec:
        return max(spec["enum"] or [""], key=lambda v: len(json.dumps(v, ensure_ascii=False)))
    kind = spec.get("type")
    if kind == "object":
        properties = spec.get("properties", {})
        required = set(spec.get("required", ()))
        return {k: _shortest_value(v) for k, v in properties.items() if k in required}
    if kind in ("number", "integer"):
        return 0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return ""
