"""Opening bags and choosing their image topics: the one place replay, eval and scenario use.

Any bag the rosbags library reads, with no ROS install: a rosbag2 folder (mcap or sqlite3,
every metadata version rosbags knows), a bare ``.mcap`` file with no ``metadata.yaml`` (as
Foxglove's ``mcap-ros2-support`` and other MCAP writers make them), or a ROS 1 ``.bag`` file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin
from rosbags.typesys import Stores, get_typestore

from cosmos_reason_ros.core.errors import CosmosReasonError

__all__ = [
    "COMPRESSED_TYPE",
    "IMAGE_TYPE",
    "BagError",
    "bag_dir_for",
    "find_bag",
    "image_connections",
    "open_bag",
    "stamp_ns",
]

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
STORAGE_BY_SUFFIX = {".mcap": StoragePlugin.MCAP, ".db3": StoragePlugin.SQLITE3}
_NS = 1_000_000_000


class BagError(CosmosReasonError):
    """A bag cannot be found or read, or lacks the image topics asked for."""


def bag_dir_for(out: Path) -> tuple[Path, StoragePlugin]:
    """Map ``OUT.mcap`` / ``OUT.db3`` (or ``OUT``: mcap) to the bag directory and storage."""
    plugin = STORAGE_BY_SUFFIX.get(out.suffix.lower())
    if plugin is None:
        return out, StoragePlugin.MCAP
    return out.with_suffix(""), plugin


def find_bag(path: str | Path) -> Path:
    """Find the bag ``path`` names.

    ``path`` may be a rosbag2 directory, a file inside one, ``OUT.mcap``/``OUT.db3`` as given to
    ``cosmos-reason-scenario`` (the directory is ``OUT``), a bare ``.mcap`` file (no
    ``metadata.yaml`` beside it), or a ROS 1 ``.bag`` file.

    Raises:
        BagError: Nothing readable is there.
    """
    p = Path(path)
    try:
        found = _bag_at(p)
    except OSError as err:  # e.g. a name too long to be a path
        raise BagError(f"cannot look for a bag at {_excerpt(str(p))!r}: {err.strerror}") from None
    if found is None:
        raise BagError(
            f"no rosbag2 directory, .mcap file or ROS 1 .bag file at {_excerpt(str(p))!r}"
        )
    return found


def _bag_at(p: Path) -> Path | None:
    if p.is_dir():
        return p
    if p.is_file():
        if (p.parent / "metadata.yaml").is_file():
            return p.parent
        if p.suffix.lower() in (".bag", ".mcap"):
            return p
    if p.suffix.lower() in STORAGE_BY_SUFFIX and p.with_suffix("").is_dir():
        return p.with_suffix("")
    return None


@contextmanager
def open_bag(path: str | Path) -> Iterator[AnyReader]:
    """An open reader of the bag ``path`` names (see ``find_bag``), closed on exit.

    Raises:
        BagError: The bag cannot be found or read.
    """
    bag = find_bag(path)
    try:
        reader = AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
        reader.open()
    except (AnyReaderError, OSError) as err:
        raise BagError(f"cannot read bag {_excerpt(str(bag))!r}: {err}") from None
    try:
        yield reader
    finally:
        reader.close()


def image_connections(
    connections: Sequence[Connection],
    topics: Sequence[str] | None = None,
    *,
    prefer_raw: bool = False,
) -> list[Connection]:
    """The ``sensor_msgs/Image`` and ``CompressedImage`` connections to use.

    Args:
        connections: The bag's connections.
        topics: Image topics asked for; None or empty: every image topic.
        prefer_raw: Without ``topics``, leave out a ``<topic>/compressed`` whose raw twin is
            also there (the same camera twice).

    Raises:
        BagError: A topic asked for is not an image topic of the bag, or there are none.
    """
    images = [c for c in connections if c.msgtype in (IMAGE_TYPE, COMPRESSED_TYPE)]
    names = {c.topic for c in images}
    if topics:
        missing = sorted(set(topics) - names)
        if missing:
            raise BagError(
                f"not image topics of this bag: {', '.join(missing)} "
                f"(image topics: {', '.join(sorted(names)) or 'none'})"
            )
        return [c for c in images if c.topic in topics]
    if prefer_raw:
        images = [
            c
            for c in images
            if not (
                c.topic.endswith("/compressed") and c.topic.removesuffix("/compressed") in names
            )
        ]
    if not images:
        others = sorted({c.topic for c in connections})
        raise BagError(
            "no sensor_msgs/Image or CompressedImage topics in the bag "
            f"(it has: {', '.join(others) or 'no topics'})"
        )
    return images


def stamp_ns(msg: Any, fallback_ns: int = 0) -> int:
    """``msg.header.stamp`` in nanoseconds; ``fallback_ns`` (e.g. the log time) when zero."""
    stamp = msg.header.stamp
    return int(stamp.sec) * _NS + int(stamp.nanosec) or fallback_ns


def _has_raw_twin(topic: str, names: set[str]) -> bool:
    return topic.endswith("/compressed") and topic.removesuffix("/compressed") in names


def _excerpt(text: str, limit: int = 200) -> str:
    """``text``, or its first ``limit`` characters and how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
