"""The openai backend's calls to its server: error translation, the retry policy, and reading a
stream while watching a deadline and a cancel event.

The policy is ours and testable: the client's own retries are off; connection errors, 5xx and
429 (honouring ``Retry-After`` up to ``backoff_max_s``) are retried up to ``max_retries`` times
with exponential backoff, but only while the attempt may be repeated (no text of it reached
``on_text``); other 4xx fail at once; a read that stalls past ``timeout_s`` raises
``GenerationTimeout`` without a retry. The API key never appears in an error message.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from cosmos_reason_ros.backends.openai.stream import END, WAITING, ChunkReader
from cosmos_reason_ros.core.errors import BackendError, GenerationCancelled, GenerationTimeout

__all__ = ["RetryableError", "ServerCalls"]

logger = logging.getLogger("cosmos_reason_ros.backends.openai.backend")

_MAX_ERROR_CHARS = 300
_POLL_S = 0.05  # how often a silent stream looks at the cancel event and the deadline


class RetryableError(Exception):
    """An attempt failed in a way worth retrying."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class ServerCalls:
    """Calls to one server with the policy of the module docstring. Thread-safe.

    Args:
        host: ``host[:port]`` for messages (never credentials).
        api_key: Blanked out of any server text that echoes it.
        timeout_s: The client's timeout, named in timeout messages.
        max_retries: Retries after the first attempt.
        backoff_base_s: First retry delay; doubles per retry, with up to 25 % jitter.
        backoff_max_s: Longest delay, also the cap on a server's ``Retry-After``.
    """

    def __init__(
        self,
        host: str,
        api_key: str,
        *,
        timeout_s: float,
        max_retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
    ) -> None:
        self.host = host
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self.openai: Any = None  # the imported ``openai`` module, set by the backend's load

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run one client call; translate its errors to ours (``RetryableError``: retry)."""
        openai = self.openai
        try:
            return fn()
        except openai.APITimeoutError as err:
            raise GenerationTimeout(
                f"server {self.host} sent nothing for {self._timeout_s:g} s (timeout_s)"
            ) from err
        except openai.APIConnectionError as err:
            message = f"cannot reach server {self.host}: {self.scrub(str(err))}"
            raise RetryableError(message) from err
        except openai.APIStatusError as err:
            # ``from None``: the SDK's error repeats the server's body, which may echo the key.
            status = err.status_code
            if 300 <= status < 400:
                raise BackendError(self._redirected(err)) from None
            text = f"server {self.host} answered HTTP {status}: {self._server_message(err)}"
            if status == 429 or status >= 500:
                raise RetryableError(text, _retry_after(err.response)) from None
            raise BackendError(text) from None
        except openai.APIError as err:  # an error event inside a stream
            raise BackendError(
                f"server {self.host} reported an error: {self.scrub(err.message)}"
            ) from None

    def with_retries(
        self,
        attempt: Callable[[], Any],
        cancel: threading.Event | None,
        may_retry: Callable[[], bool] = lambda: True,
    ) -> Any:
        """``attempt()``, retried on ``RetryableError`` while ``may_retry()``."""
        retries = self._max_retries
        for n in range(retries + 1):
            try:
                return attempt()
            except RetryableError as err:
                if n == retries or not may_retry():
                    tries = f"after {n + 1} attempt(s)" if may_retry() else "mid-answer"
                    raise BackendError(f"{err.message} ({tries})") from None
                delay = min(self._backoff_base_s * 2**n, self._backoff_max_s)
                delay *= 1 + 0.25 * random.random()
                if err.retry_after_s is not None:
                    delay = min(max(delay, err.retry_after_s), self._backoff_max_s)
                logger.warning(
                    "openai backend retry attempt=%d of=%d delay_s=%.3f cause=%s",
                    n + 1,
                    retries,
                    delay,
                    err.message,
                )
                if cancel is not None:
                    if cancel.wait(delay):
                        raise GenerationCancelled("generation cancelled by the caller") from None
                else:
                    time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def read(
        self,
        client: Any,
        kwargs: dict[str, Any],
        cancel: threading.Event | None,
        *,
        feed: Callable[[Any], None],
        done: Callable[[], bool],
        deadline: Callable[[], float | None] = lambda: None,
        on_deadline: Callable[[], None] = lambda: None,
    ) -> bool:
        """Stream ``kwargs``' completion, feeding chunks until ``done()`` or its end.

        ``deadline()`` (a ``time.monotonic`` instant, or None for none now) is checked while
        the server is silent too; when it passes, ``on_deadline()`` is called and reading ends.

        Returns:
            Whether the stream finished (its end was read), rather than ``done()`` or the
            deadline stopping it early.

        Raises:
            GenerationCancelled: ``cancel`` was set.
            RetryableError, BackendError, GenerationTimeout: as ``call``.
        """
        reader = ChunkReader(
            lambda: self.call(lambda: client.chat.completions.create(**kwargs)),
            lambda it: self.call(lambda: next(it, None)),
        )
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise GenerationCancelled("generation cancelled by the caller")
                wait = _POLL_S
                due = deadline()
                if due is not None:
                    left = due - time.monotonic()
                    if left <= 0:
                        on_deadline()
                        return False
                    wait = min(wait, left)
                item = reader.next(wait)
                if item is END:
                    return True
                if item is not WAITING:
                    feed(item)
                    if done():
                        return False
        finally:
            reader.close()

    def scrub(self, text: str) -> str:
        """Shorten ``text`` and blank out the API key, should a server echo it."""
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text[:_MAX_ERROR_CHARS]

    def _redirected(self, err: Any) -> str:
        """Why a 3xx answer fails: where it pointed (origin and path only), and what to do."""
        target = urlparse(str(err.response.headers.get("location", "")))
        where = f"{target.scheme}://{target.hostname}" if target.hostname else ""
        if where and target.port:
            where += f":{target.port}"
        where = self.scrub(where + target.path) or "an unnamed location"
        return (
            f"server {self.host} answered HTTP {err.status_code}, a redirect to {where}; "
            "redirects are not followed, so that the API key goes to base_url only: set "
            "base_url to the address that answers"
        )

    def _server_message(self, err: Any) -> str:
        body = err.body  # the SDK's: the body's "error" member where it has one
        message = body.get("message") if isinstance(body, dict) else body
        return self.scrub(str(message) if message else str(err.message))


def _retry_after(response: Any) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header, if numeric."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after") is not None:
            return max(0.0, float(headers["retry-after"]))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return None
