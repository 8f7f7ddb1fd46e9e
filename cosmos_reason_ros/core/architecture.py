"""Which model family a checkpoint is, read from its ``config.json`` wherever one is reachable.

Cosmos-Reason1 is Qwen2.5-VL (``model_type`` ``qwen2_5_vl``, 28 px per visual token);
Cosmos-Reason2 is Qwen3-VL (``qwen3_vl``, 32 px). The prompt profile and the frame sizes
follow from it, so it is read from the checkpoint itself: a local folder's ``config.json``,
else the Hugging Face cache's copy (no network), else, last, a guess from the name.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

_LOG = logging.getLogger(__name__)

KNOWN = ("qwen2_5_vl", "qwen2_vl", "qwen3_vl")
"""``model_type`` values of the supported families."""

SOURCES = ("config.json", "hub cache", "name")
"""Where ``detect_architecture`` finds an architecture, most trusted first. A loaded backend
may report its own (``BackendInfo.architecture_source``)."""


@dataclass(frozen=True)
class Architecture:
    """A checkpoint's ``model_type`` and what decided it.

    Attributes:
        model_type: e.g. ``qwen2_5_vl``; "" when nothing could tell.
        source: One of ``SOURCES``.
        detail: Where exactly (a path, a server model id), for the log line.
    """

    model_type: str
    source: str
    detail: str = ""

    def origin(self) -> str:
        """What decided it: ``config.json at /models/r2``."""
        return f"{self.source} at {self.detail}" if self.detail else self.source

    def describe(self) -> str:
        """``qwen3_vl (from config.json at /models/r2)``, for logs."""
        return f"{self.model_type or 'unknown'} (from {self.origin()})"


def detect_architecture(model: str, *names: str) -> Architecture:
    """The architecture of ``model`` (a local folder or a hub id), without network access.

    Args:
        model: Local checkpoint folder or hub id.
        names: Further names that may identify the checkpoint (e.g. the path a server reports
            it loaded), tried as ``model`` is: folder, hub cache, then the name guess.

    Returns:
        The first of: ``config.json`` in a local folder, ``config.json`` in the Hugging Face
        cache, a guess from the names.
    """
    candidates = [n for n in (model, *names) if n]
    for name in candidates:
        found = _from_folder(name) or _from_hub_cache(name)
        if found is not None:
            return found
    for name in candidates:
        guessed = guess_from_name(name)
        if guessed:
            return Architecture(guessed, "name", name)
    return Architecture("", "name", model)


def model_type_of(config_path: Path) -> str:
    """``model_type`` from a ``config.json`` (or "" when absent or unreadable)."""
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    value = data.get("model_type") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def guess_from_name(name: str) -> str:
    """``qwen3_vl`` for Reason2 / Qwen3 names, ``qwen2_5_vl`` for Reason1 / Qwen2.5; else ""."""
    lowered = name.lower()
    if "reason2" in lowered or "qwen3" in lowered:
        return "qwen3_vl"
    if "reason1" in lowered or "qwen2.5" in lowered or "qwen2_5" in lowered:
        return "qwen2_5_vl"
    return ""


def _from_folder(name: str) -> Architecture | None:
    folder = Path(name).expanduser()
    config = folder / "config.json"
    if not config.is_file():
        return None
    model_type = model_type_of(config)
    return Architecture(model_type, "config.json", str(folder)) if model_type else None


def _from_hub_cache(repo_id: str) -> Architecture | None:
    """``config.json`` of ``repo_id`` from the local Hugging Face cache, never the network."""
    if repo_id.count("/") != 1 or os.path.isabs(repo_id) or repo_id.startswith("."):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # the hub client comes with transformers; without it there is no cache
        return None
    try:
        path = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # not a valid repo id
        return None
    if not isinstance(path, str):
        return None
    model_type = model_type_of(Path(path))
    return Architecture(model_type, "hub cache", repo_id) if model_type else None
