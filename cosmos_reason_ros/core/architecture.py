"""Which model family a checkpoint is, read from its ``config.json`` wherever one is reachable.

Cosmos-Reason1 is Qwen2.5-VL (``model_type`` ``qwen2_5_vl``, 28 px per visual token);
Cosmos-Reason2 is Qwen3-VL (``qwen3_vl``, 32 px). Cosmos 3 has two reasoner architectures:
Cosmos3-Nano / Super (``cosmos3_omni``, a Qwen3-VL reasoner tower; transformers 5.25
``models/cosmos3_omni/configuration_cosmos3_omni.py``; TensorRT-LLM's ``modeling_cosmos3.py``
registers it as ``Cosmos3ForConditionalGeneration``, and its model-family table also lists the
bare ``cosmos3``) and Cosmos3-Edge (``cosmos3_edge``: a dense text model with a SigLIP2 vision
encoder, 16 px patches merged 2x2, one frame per temporal patch; transformers 5.25
``models/cosmos3_edge/``). The prompt profile and the frame sizes follow from it, so it is read
from the checkpoint itself: a local folder's ``config.json``, else the Hugging Face cache's copy
(no network), else, last, a guess from the name (served names such as ``nvidia/Cosmos3-Nano``
or NIM's ``nvidia/cosmos3-nano-reasoner`` and ``cosmos3-edge-reasoner``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cosmos_reason_ros.core.errors import ConfigError

_LOG = logging.getLogger(__name__)

COSMOS3_OMNI = "cosmos3_omni"
COSMOS3_EDGE = "cosmos3_edge"
COSMOS3_OMNI_ALIASES = ("cosmos3_omni", "cosmos3")
"""``model_type`` spellings of the Nano / Super reasoner: the released one and the bare family
name TensorRT-LLM's model-family table lists beside ``cosmos3_omni`` and ``cosmos3_edge``. Both
are read as ``cosmos3_omni``."""

KNOWN = ("qwen2_5_vl", "qwen2_vl", "qwen3_vl", COSMOS3_OMNI, COSMOS3_EDGE)
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
    check_model_name(model)
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


MAX_MODEL_CHARS = 4096
"""The longest ``model`` a checkpoint can have: Linux's ``PATH_MAX`` for a folder (hub ids and
served model names are far shorter)."""


def check_model_name(model: str) -> None:
    """Raise ``ConfigError`` if ``model`` is longer than any folder path or model id can be
    (quoting only its start: the value may be megabytes)."""
    if len(model) > MAX_MODEL_CHARS:
        raise ConfigError(
            f"model is {len(model)} characters ({model[:40]!r}...), longer than any checkpoint "
            f"folder path or model id ({MAX_MODEL_CHARS} at most)"
        )


def model_type_of(config_path: Path) -> str:
    """``model_type`` from a ``config.json`` (or "" when absent or unreadable), aliases of a
    known family read as that family (``canonical_model_type``)."""
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    value = data.get("model_type") if isinstance(data, dict) else None
    return canonical_model_type(value) if isinstance(value, str) else ""


def canonical_model_type(model_type: str) -> str:
    """``model_type`` with the Cosmos 3 Omni aliases read as ``cosmos3_omni``; others as given."""
    key = model_type.strip().lower().replace("-", "_")
    return COSMOS3_OMNI if key in COSMOS3_OMNI_ALIASES else model_type


def is_cosmos3(model_type: str) -> bool:
    """Whether ``model_type`` (a ``model_type`` or an architecture class name) is Cosmos 3."""
    return model_type.strip().lower().replace("-", "_").startswith("cosmos3")


def guess_from_name(name: str) -> str:
    """The architecture a model name suggests; "" when it suggests none.

    ``cosmos3_edge`` for Cosmos3-Edge names (``nvidia/Cosmos3-Edge``, NIM's
    ``cosmos3-edge-reasoner``), ``cosmos3_omni`` for other Cosmos 3 names (``nvidia/Cosmos3-Nano``,
    ``nvidia/cosmos3-super-reasoner``), ``qwen3_vl`` for Reason2 / Qwen3, ``qwen2_5_vl`` for
    Reason1 / Qwen2.5.
    """
    lowered = name.lower().replace("_", "-")
    if "cosmos3" in lowered or "cosmos-3" in lowered:
        return COSMOS3_EDGE if "edge" in lowered else COSMOS3_OMNI
    if "reason2" in lowered or "qwen3" in lowered:
        return "qwen3_vl"
    if "reason1" in lowered or "qwen2.5" in lowered or "qwen2_5" in lowered:
        return "qwen2_5_vl"
    return ""


def _from_folder(name: str) -> Architecture | None:
    folder = Path(name).expanduser()
    config = folder / "config.json"
    try:
        if not config.is_file():
            return None
    except OSError:  # a name that cannot be a path (too long): not a folder
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
