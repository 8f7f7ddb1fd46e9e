"""Local checkpoint folders: checked before anything is loaded from them.

``resolve_checkpoint`` gives the loader what to load: a hub id unchanged, or a local folder with
every symlink resolved, so that the folder checked is the folder loaded (a symlink swapped
afterwards changes nothing). Every folder must look like a checkpoint (``config.json``,
``*.safetensors`` weights). With ``trust_remote_code`` on, the loader imports Python files from
the folder, so anyone able to write into it could run code as the node: the folder, its
subfolders, its files (and, for symlinked files such as the Hugging Face cache's, their
targets and the folders those sit in) must not be world-writable, and no folder above it may
be world-writable without the sticky bit (anyone could rename the folder and put another in
its place; ``/tmp``, sticky, is fine).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cosmos_reason_ros.core.errors import BackendError

__all__ = ["looks_local", "resolve_checkpoint"]


def looks_local(model: str) -> bool:
    """Whether ``model`` names a local folder rather than a hub id."""
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def resolve_checkpoint(model: str, *, trust_remote_code: bool) -> str:
    """What to hand ``from_pretrained``: ``model`` itself for a hub id, else the real folder.

    Args:
        model: Hub id or local folder (``~`` expanded, symlinks resolved).
        trust_remote_code: The checkpoint's own code may run: also refuse a folder that
            others can write to.

    Returns:
        The hub id, or the resolved folder as a string.

    Raises:
        BackendError: The folder is missing, is not a checkpoint, or (with
            ``trust_remote_code``) others could change the code in it; the message says how
            to fix it.
    """
    if not looks_local(model):
        return model
    given = Path(model).expanduser()
    if not given.exists():
        raise BackendError(f"model folder {given} does not exist")
    folder = given.resolve(strict=True)
    named = f"{given}" if folder == given else f"{given} (resolved: {folder})"
    if not folder.is_dir():
        raise BackendError(f"model folder {named} is a file, not a checkpoint folder")
    config = folder / "config.json"
    if not config.is_file():
        raise BackendError(f"model folder {named} has no config.json: not a checkpoint folder")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendError(f"model folder {named} has an unreadable config.json: {exc}") from exc
    if not any(folder.glob("*.safetensors")):
        raise BackendError(f"model folder {named} has no *.safetensors weights")
    if trust_remote_code:
        problem = _writable_by_others(folder)
        if problem:
            raise BackendError(
                f"model folder {named} is not safe with trust_remote_code on: {problem}. "
                "Anyone on this machine could put code there that the node would run; "
                "chmod o-w it (or turn trust_remote_code off)"
            )
    return str(folder)


def _writable_by_others(folder: Path) -> str:
    """The first path others may change, said in words; "" if none (see the module doc)."""
    dirs: dict[Path, Path] = {folder: folder}  # real folder -> the path that led to it
    files: dict[Path, Path] = {}
    pending = [folder]
    while pending:
        for entry in sorted(pending.pop().iterdir()):
            real = entry.resolve()
            if real.is_dir():
                if real not in dirs:
                    dirs[real] = entry
                    pending.append(real)
            elif real.exists():
                files.setdefault(real, entry)
                dirs.setdefault(real.parent, entry)
    for path, via in [*dirs.items(), *files.items()]:
        if path.stat().st_mode & stat.S_IWOTH:
            return f"{_shown(path, via)} is world-writable"
    for path, via in dirs.items():
        for parent in path.parents:
            mode = parent.stat().st_mode
            if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
                return (
                    f"{parent}, a folder above {_shown(path, via)}, is world-writable without "
                    "the sticky bit"
                )
    return ""


def _shown(path: Path, via: Path) -> str:
    return str(path) if path == via else f"{path} (reached through {via})"
