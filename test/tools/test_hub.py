"""Model loading fails fast and clearly offline, and a cached hub id loads with no network.

The network is made unreachable for the child process only, on loopback: ``HF_ENDPOINT``
points at a closed port (connection refused), at a port that accepts and never answers (the
packets-dropped case, where huggingface_hub alone retries for minutes), or ``HF_HUB_OFFLINE=1``.
``HF_HUB_CACHE`` is an empty (or prepared) folder, so the machine's real cache is not used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from cosmos_reason_ros.backends.transformers.hub import cached_snapshot, locate_checkpoint
from cosmos_reason_ros.core.errors import BackendError

pytest.importorskip("huggingface_hub", reason="the hub client comes with transformers")

BOUND_S = 20.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    return path


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cosmos_reason(model: str, clip: Path, cache: Path, **env: str) -> tuple[int, str, float]:
    environ = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_ENDPOINT")}
    environ |= {"HF_HUB_CACHE": str(cache), **env}
    argv = [sys.executable, "-m", "cosmos_reason_ros.tools.cli", "--model", model]
    argv += ["--video", str(clip), "--actions", "go,stop", "--device", "cpu"]
    argv += ["--max-new-tokens", "160", "--max-thinking-tokens", "4", "--max-reason-chars", "8"]
    t0 = time.monotonic()
    done = subprocess.run(
        argv, check=False, capture_output=True, text=True, timeout=120, env=environ
    )
    return done.returncode, done.stderr, time.monotonic() - t0


@pytest.mark.parametrize("network", ["refused", "silent", "offline"])
def test_an_unknown_hub_id_fails_within_seconds_in_one_sentence_when_the_hub_is_unreachable(
    tmp_path: Path, clip: Path, silent_port: int, network: str
) -> None:
    env = {
        "refused": {"HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"},
        "silent": {"HF_ENDPOINT": f"http://127.0.0.1:{silent_port}"},
        "offline": {"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": f"http://127.0.0.1:{silent_port}"},
    }[network]
    status, err, elapsed = cosmos_reason("nvidia/Cosmos-Reason9-7B", clip, tmp_path / "c", **env)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert status == 1, err
    assert elapsed < BOUND_S, f"took {elapsed:.1f} s"
    assert len(lines) <= 3, err
    assert "nvidia/Cosmos-Reason9-7B" in err and "not in the Hugging Face cache" in err
    assert "pass a local checkpoint folder" in err
    assert ("offline mode is on" if network == "offline" else "cannot be reached") in err


def _cache(cache: Path, repo: str, model_dir: Path) -> Path:
    """Lay out ``model_dir`` in ``cache`` as huggingface_hub caches hub id ``repo``."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    shutil.copytree(model_dir, root / "snapshots" / commit)
    return root / "snapshots" / commit


def test_a_cached_hub_id_loads_from_its_snapshot_with_the_network_unreachable(
    tmp_path: Path, clip: Path, tiny_model_dir: Path, silent_port: int
) -> None:
    snapshot = _cache(tmp_path / "cache", "cosmos-test/tiny-reason1", tiny_model_dir)
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{silent_port}"}
    status, err, elapsed = cosmos_reason(
        "cosmos-test/tiny-reason1", clip, tmp_path / "cache", **env
    )
    assert status == 0, err
    assert elapsed < 60.0
    assert snapshot.is_dir()


def test_resolution_keeps_folders_uses_complete_snapshots_and_refuses_bad_ids(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert locate_checkpoint(str(tiny_model_dir)) == str(tiny_model_dir)
    snapshot = _cache(tmp_path / "cache", "org/complete", tiny_model_dir)
    assert locate_checkpoint("org/complete") == str(snapshot)
    partial = _cache(tmp_path / "cache", "org/partial", tiny_model_dir)
    for weights in partial.glob("*.safetensors"):
        weights.unlink()
    assert cached_snapshot("org/partial") is None
    with pytest.raises(BackendError, match="offline mode is on"):
        locate_checkpoint("org/partial")
    with pytest.raises(BackendError, match="neither an existing folder nor a valid hub id"):
        locate_checkpoint("org//bad name")


def test_a_gated_checkpoint_fails_in_one_sentence_that_says_what_to_do() -> None:
    from cosmos_reason_ros.backends.transformers.hub import gated_sentence

    try:  # transformers' wording when the hub refuses a gated download
        try:
            raise PermissionError("403 Forbidden")
        except PermissionError as inner:
            raise OSError(
                "You are trying to access a gated repo.\nMake sure to have access to it."
            ) from inner
    except OSError as err:
        sentence = gated_sentence("nvidia/Cosmos3-Nano", err)
    assert sentence is not None and "\n" not in sentence
    assert sentence.replace("e.g. ", "").count(". ") == 0  # one sentence
    assert sentence.startswith("model nvidia/Cosmos3-Nano is gated on the Hugging Face Hub: ")
    assert "https://huggingface.co/nvidia/Cosmos3-Nano" in sentence and "HF_TOKEN" in sentence
    assert gated_sentence("nvidia/Cosmos3-Nano", ValueError("shape mismatch")) is None
