"""Compiled decoding for the transformers backend: a static KV cache and ``torch.compile`` of
the decode step (transformers compiles it itself when the cache is static).

Decisions of one node differ only in their frames, so their prompts have one length per camera
count: the cache is sized once (``CompiledDecoding.cache_len``, a bucket of the configured
worst-case prompt plus the token budget) so every decision reuses one compiled graph, and the
graph is compiled at load by a short warm-up, so no decision pays the compile time. The image
prefill is not compiled (it runs once per decision). Where compilation fails, the backend falls
back to eager decoding with one log line.

``compile``: ``auto`` = on where CUDA is present, off on the CPU (there a dynamic cache on one
thread is faster for the small models it runs); ``on``; ``off``.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import torch

from cosmos_reason_ros.backends.config import COMPILE_MODES

_LOG = logging.getLogger(__name__)

CACHE_BUCKET = 2048  # cache lengths are rounded up to this many tokens


@functools.cache
def _generate_knows(setting: str) -> bool:
    """Whether the installed transformers' ``generate`` takes ``setting`` (looked up once)."""
    from transformers import GenerationConfig

    return hasattr(GenerationConfig(), setting)  # type: ignore[no-untyped-call]


@dataclass
class CompiledDecoding:
    """Whether decoding is compiled and the static cache length it uses.

    Attributes:
        enabled: Compile the decode step (static cache).
        device: ``cuda`` or ``cpu``.
        cache_len: Tokens the static cache holds; 0 until sized.
    """

    enabled: bool
    device: str
    cache_len: int = 0

    @classmethod
    def resolve(cls, mode: str, device: str) -> CompiledDecoding:
        """The setting for ``mode`` (``COMPILE_MODES``) on ``device``."""
        if mode not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {', '.join(COMPILE_MODES)}; got {mode!r}")
        enabled = mode == "on" or (mode == "auto" and device == "cuda")
        return cls(enabled=enabled, device=device)

    def size_for(self, tokens: int) -> int:
        """The cache length for ``tokens`` (prompt plus budget): the current one when it holds
        them, else the next bucket (one recompile, logged)."""
        needed = -(-tokens // CACHE_BUCKET) * CACHE_BUCKET
        if needed > self.cache_len:
            if self.cache_len:
                _LOG.warning(
                    "static cache grows: cache_len=%d -> %d (one recompile)",
                    self.cache_len,
                    needed,
                )
            self.cache_len = needed
        return self.cache_len

    def generate_kwargs(self, prompt_tokens: int, max_new_tokens: int) -> dict[str, Any]:
        """Keyword arguments of ``generate`` that select compiled or eager decoding."""
        if not self.enabled:
            return {"disable_compile": True} if _generate_knows("disable_compile") else {}
        from transformers import CompileConfig

        mode = "reduce-overhead" if self.device == "cuda" else "default"
        config = CompileConfig(fullgraph=False, mode=mode)
        if self.device != "cuda":
            # transformers compiles on CUDA only unless told otherwise (a private switch)
            setattr(config, "_compile_all_devices", True)  # noqa: B010
        kwargs: dict[str, Any] = {"cache_implementation": "static", "compile_config": config}
        if _generate_knows("max_cache_len"):  # transformers 5.x; 4.x sizes the cache itself
            kwargs["max_cache_len"] = self.size_for(prompt_tokens + max_new_tokens)
        return kwargs

    def disable(self, reason: BaseException) -> None:
        """Fall back to eager decoding for good, saying why in one line."""
        self.enabled = False
        _LOG.warning("compiled decoding failed, using eager decoding: %s", _first_line(reason))


def warm_up(model: Any, tokenizer: Any, decoding: CompiledDecoding, expected_tokens: int) -> None:
    """Compile the decode step now, for the cache length real decisions will use.

    A few tokens of a text prompt are enough: only the decode step is compiled, and its shapes
    depend on the cache length, not on the prompt. Failures switch to eager decoding.
    """
    if not decoding.enabled:
        return
    inputs = tokenizer(["warm-up"], return_tensors="pt").to(model.device)
    kwargs = decoding.generate_kwargs(0, expected_tokens)
    try:
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=4, do_sample=False, **kwargs)
    except Exception as exc:  # any compiler failure: eager decoding still works
        decoding.disable(exc)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"
