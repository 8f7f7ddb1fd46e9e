"""Where a checkpoint comes from, decided in about a second and offline-safe, before any load.

``from_pretrained("org/name")`` on a machine that cannot reach the hub retries for minutes
(23 s when DNS fails at once; 387 s per file when packets are dropped: huggingface_hub's
retry phase has a hard-coded 60 s timeout and 5 retries that no setting bounds), and prints
the same warnings again and again. So a hub id is resolved here first:

1. a local folder is used as it is (the backend checks its contents);
2. a hub id whose snapshot is complete in the local Hugging Face cache becomes that snapshot
   folder, so loading never touches the network;
3. otherwise, unless offline mode is on (``HF_HUB_OFFLINE=1``), one request asks the hub
   whether the id exists, with a timeout of ``PROBE_TIMEOUT_S`` and no retries: an
   unreachable hub or an unknown id fails at once, in one sentence that says what was tried
   and how to point at a local folder; a known id is returned for the normal download.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cosmos_reason_ros.backends.transformers.checkpoint import looks_local
from cosmos_reason_ros.core.errors import BackendError

_LOG = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0
"""Longest wait for the hub's answer about an id that is not cached."""

WEIGHT_PATTERNS = (
    "*.safetensors",
    "*.safetensors.index.json",
    "*.bin",
    "*.bin.index.json",
    # Cosmos 3's unified checkpoints keep the reasoner's weights in subfolders (TensorRT-LLM
    # modeling_cosmos3.py: ``transformer/``, ``vision_encoder/``)
    "*/*.safetensors",
    "*/*.safetensors.index.json",
)
LOCAL_HINT = "or pass a local checkpoint folder instead (e.g. -p model:=/models/Cosmos3-Nano)"


def locate_checkpoint(model: str, probe_timeout_s: float = PROBE_TIMEOUT_S) -> str:
    """What ``from_pretrained`` should load: a local folder when there is one, else the hub id.

    Args:
        model: A local folder or a hub id (``org/name``).
        probe_timeout_s: Longest wait for the hub when the id is not cached.

    Returns:
        ``model`` itself for a local path; the cached snapshot folder of a cached hub id; the
        hub id when it is not cached but the hub knows it (it will be downloaded).

    Raises:
        BackendError: Not a folder and not cached, and the hub cannot be asked (offline mode
            or unreachable) or does not know the id.
    """
    if looks_local(model):
        return model
    try:
        from huggingface_hub import constants
        from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]
    except ImportError:  # no hub client: nothing to resolve, the loader will say what is wrong
        return model
    try:
        validate_repo_id(model)
    except ValueError as err:
        raise BackendError(
            f"model {model!r} is neither an existing folder nor a valid hub id: {err}"
        ) from None
    snapshot = cached_snapshot(model)
    if snapshot is not None:
        _LOG.info("model %s: using the cached snapshot %s (no network)", model, snapshot)
        return str(snapshot)
    where = f"no folder named {model!r} here and not in the Hugging Face cache ({_cache_dir()})"
    if constants.HF_HUB_OFFLINE:
        raise BackendError(
            f"model {model}: {where}, and offline mode is on (HF_HUB_OFFLINE): download it on a "
            f"connected machine (hf download {model}) {LOCAL_HINT}"
        )
    _probe(model, where, probe_timeout_s)
    return model


def cached_snapshot(model: str) -> Path | None:
    """The cached snapshot folder of hub id ``model`` if it holds a config and weights."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        return None
    try:
        folder = Path(snapshot_download(model, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    complete = (folder / "config.json").is_file() and any(
        any(folder.glob(pattern)) for pattern in WEIGHT_PATTERNS
    )
    if not complete:
        _LOG.info("model %s: the cached snapshot %s is incomplete", model, folder)
    return folder if complete else None


def _probe(model: str, where: str, timeout_s: float) -> None:
    """Ask the hub once whether ``model`` exists; raise ``BackendError`` when it cannot say yes."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    endpoint = constants.ENDPOINT
    try:
        HfApi().model_info(model, timeout=timeout_s)
    except GatedRepoError:
        return  # it exists; the download says what access it needs
    except RepositoryNotFoundError:
        raise BackendError(
            f"model {model}: {where}, and {endpoint} has no model of that name (check the "
            f"spelling; a private model needs HF_TOKEN) {LOCAL_HINT}"
        ) from None
    except HfHubHTTPError as err:
        raise BackendError(
            f"model {model}: {where}, and {endpoint} answered {_first_line(err)} {LOCAL_HINT}"
        ) from None
    except Exception as err:  # the transport's own errors (httpx2 or requests): unreachable
        raise BackendError(
            f"model {model}: {where}, and {endpoint} cannot be reached within {timeout_s:g} s "
            f"({type(err).__name__}: {_first_line(err)}): this machine looks offline. Download "
            f"it on a connected machine (hf download {model}) {LOCAL_HINT}"
        ) from None


def _cache_dir() -> str:
    from huggingface_hub import constants

    home = os.path.expanduser("~")
    cache = str(constants.HF_HUB_CACHE)
    return "~" + cache[len(home) :] if cache.startswith(home + os.sep) else cache


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else "no message"


def gated_sentence(model: str, err: BaseException) -> str | None:
    """One sentence saying what to do when ``err`` (anywhere in its chain) says the hub refused
    ``model`` because it is gated; None for any other error."""
    seen: BaseException | None = err
    while seen is not None:
        if type(seen).__name__ == "GatedRepoError" or "gated repo" in str(seen).lower():
            return (
                f"model {model} is gated on the Hugging Face Hub: accept its license at "
                f"https://huggingface.co/{model} with your account, then log in (hf auth login) "
                f"or set HF_TOKEN, {LOCAL_HINT}"
            )
        seen = seen.__cause__ or seen.__context__
    return None
