"""Keeping the openai backend's API key out of every text the node hands on.

The key is read from the environment variable ``api_key_env`` names (``read_api_key``: the
whitespace around it, such as the trailing newline of a key file or a secret, stripped) and goes
in the ``Authorization`` header to ``base_url`` only. A server may echo it back (in an error body,
or in generated text); these helpers blank it out (``BLANK``) before any text reaches a log,
a message or an exception.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
from urllib.parse import urlparse

from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import GenerationResult, TextCallback

__all__ = ["BLANK", "KeyFilter", "blank_result", "read_api_key", "sent_in_clear"]

_LOG = logging.getLogger(__name__)

BLANK = "***"


def read_api_key(env_name: str) -> str:
    """The API key in the environment variable ``env_name`` ("" for no name or no variable).

    Whitespace around the key (a key file's or a secret's trailing newline) is stripped: no key
    holds it, and an HTTP header cannot carry a newline, so the request would fail before it
    left (as "cannot reach the server"). The key itself is never quoted.

    Raises:
        ConfigError: What is left holds characters an HTTP header cannot carry.
    """
    raw = os.environ.get(env_name, "") if env_name else ""
    key = raw.strip()
    if key != raw:
        _LOG.warning(
            "the API key in %s has whitespace around it (a trailing newline?); it was stripped",
            env_name,
        )
    if any(not (" " < c <= "~") for c in key):
        raise ConfigError(
            f"the API key in {env_name} holds whitespace, control or non-ASCII characters, "
            "which an HTTP header cannot carry; check how the variable is set"
        )
    return key


def blank_result(result: GenerationResult, key: str) -> GenerationResult:
    """``result`` with ``key`` blanked out of its texts ("" = no key: ``result`` itself)."""
    if not key:
        return result

    def blank(text: str | None) -> str | None:
        return None if text is None else text.replace(key, BLANK)

    return dataclasses.replace(
        result,
        text=result.text.replace(key, BLANK),
        thinking=blank(result.thinking),
        answer_json=blank(result.answer_json),
    )


class KeyFilter:
    """Streamed text on its way to ``on_text`` with ``key`` blanked out.

    A tail that could be the start of the key is held back until the next delta (or
    ``flush``) settles it, so a key split across deltas is caught too; the deltas passed on
    join to the blanked text. Not thread-safe: one stream, one thread.
    """

    def __init__(self, key: str, on_text: TextCallback) -> None:
        self._key = key
        self._on_text = on_text
        self._held = ""
        self._tokens = 0

    def __call__(self, delta: str, tokens: int) -> None:
        text = (self._held + delta).replace(self._key, BLANK)
        keep = next(
            (
                n
                for n in range(min(len(self._key) - 1, len(text)), 0, -1)
                if text.endswith(self._key[:n])
            ),
            0,
        )
        self._held, self._tokens = text[len(text) - keep :], tokens
        if len(text) > keep:
            self._on_text(text[: len(text) - keep], tokens)

    def flush(self) -> None:
        """Pass on what is held back: the stream ended, so it was not the key."""
        held, self._held = self._held, ""
        if held:
            self._on_text(held, self._tokens)


def sent_in_clear(url: str) -> bool:
    """Whether a request to ``url`` crosses the network unencrypted (plain http, not loopback)."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme != "http" or host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name other than localhost
