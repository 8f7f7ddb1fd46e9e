"""Local checkpoint folders: symlinks resolved, and with trust_remote_code on, nothing in or
above the folder that others could write to (backends/transformers/checkpoint.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cosmos_reason_ros.backends.transformers.checkpoint import resolve_checkpoint
from cosmos_reason_ros.core.errors import BackendError


def _checkpoint(folder: Path) -> Path:
    """A folder that looks like a checkpoint (what resolve_checkpoint checks; nothing loads)."""
    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "modeling_custom.py").write_text("X = 1\n")
    for file in folder.iterdir():
        os.chmod(file, 0o644)
    return folder


def _add(path: Path, bits: int) -> None:
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) | bits)


@pytest.fixture
def private(tmp_path: Path) -> Path:
    """A base folder only its owner can write to (pytest's tmp_path is 0700)."""
    os.chmod(tmp_path, 0o755)
    return tmp_path


def test_a_hub_id_is_passed_on_unchanged() -> None:
    assert resolve_checkpoint("nvidia/Cosmos-Reason1-7B", trust_remote_code=True) == (
        "nvidia/Cosmos-Reason1-7B"
    )


def test_a_symlinked_folder_resolves_to_the_real_folder_which_is_what_loads(
    private: Path,
) -> None:
    real = _checkpoint(private / "real")
    (private / "link").symlink_to(real, target_is_directory=True)
    for trust in (False, True):
        assert resolve_checkpoint(str(private / "link"), trust_remote_code=trust) == str(real)


@pytest.mark.parametrize("trust", [False, True])
def test_a_folder_that_is_no_checkpoint_is_refused_naming_what_it_lacks(
    private: Path, trust: bool
) -> None:
    folder = _checkpoint(private / "ckpt")
    (folder / "model.safetensors").unlink()
    (private / "link").symlink_to(folder, target_is_directory=True)
    with pytest.raises(
        BackendError, match=rf"^model folder {private}/link \(resolved: {folder}\) has no \*"
    ):
        resolve_checkpoint(str(private / "link"), trust_remote_code=trust)


def test_a_world_writable_folder_is_refused_only_with_trust_remote_code(private: Path) -> None:
    folder = _checkpoint(private / "ckpt")
    _add(folder, stat.S_IWOTH)
    assert resolve_checkpoint(str(folder), trust_remote_code=False) == str(folder)
    with pytest.raises(BackendError) as caught:
        resolve_checkpoint(str(folder), trust_remote_code=True)
    assert str(caught.value) == (
        f"model folder {folder} is not safe with trust_remote_code on: {folder} is "
        "world-writable. Anyone on this machine could put code there that the node would run; "
        "chmod o-w it (or turn trust_remote_code off)"
    )


def test_a_world_writable_file_in_the_folder_is_refused_with_trust_remote_code(
    private: Path,
) -> None:
    folder = _checkpoint(private / "ckpt")
    _add(folder / "modeling_custom.py", stat.S_IWOTH)
    with pytest.raises(BackendError, match=r"modeling_custom\.py is world-writable"):
        resolve_checkpoint(str(folder), trust_remote_code=True)


def test_a_world_writable_subfolder_is_refused_with_trust_remote_code(private: Path) -> None:
    folder = _checkpoint(private / "ckpt")
    (folder / "sub" / "deeper").mkdir(parents=True)
    _add(folder / "sub" / "deeper", stat.S_IWOTH)
    with pytest.raises(BackendError, match=r"ckpt/sub/deeper is world-writable"):
        resolve_checkpoint(str(folder), trust_remote_code=True)


def test_symlinked_files_are_judged_by_their_targets_as_in_the_hub_cache(
    private: Path,
) -> None:
    """The Hugging Face cache keeps files in blobs/ and links them from snapshots/<rev>/."""
    blobs = private / "blobs"
    blobs.mkdir()
    snapshot = private / "snapshots" / "rev"
    snapshot.mkdir(parents=True)
    for name, text in (("config.json", "{}"), ("model.safetensors", ""), ("code.py", "X=1")):
        (blobs / name).write_text(text)
        (snapshot / name).symlink_to(blobs / name)
    assert resolve_checkpoint(str(snapshot), trust_remote_code=True) == str(snapshot)
    _add(blobs, stat.S_IWOTH)
    with pytest.raises(BackendError, match=rf"{blobs} \(reached through {snapshot}/\S+\) is wor"):
        resolve_checkpoint(str(snapshot), trust_remote_code=True)
    os.chmod(blobs, 0o755)
    _add(blobs / "code.py", stat.S_IWOTH)
    with pytest.raises(BackendError, match=rf"{blobs}/code.py \(reached through {snapshot}/code"):
        resolve_checkpoint(str(snapshot), trust_remote_code=True)


def test_a_world_writable_folder_above_needs_the_sticky_bit(private: Path) -> None:
    shared = private / "shared"
    shared.mkdir()
    folder = _checkpoint(shared / "ckpt")
    os.chmod(shared, 0o777)
    with pytest.raises(
        BackendError, match=rf"{shared}, a folder above {folder}, is world-writable without the"
    ):
        resolve_checkpoint(str(folder), trust_remote_code=True)
    os.chmod(shared, 0o777 | stat.S_ISVTX)  # like /tmp: others cannot rename what is ours
    assert resolve_checkpoint(str(folder), trust_remote_code=True) == str(folder)
