"""Frames, clips and window snapshots: the data the engine reasons over.

Images are ``numpy.ndarray`` of shape (H, W, 3), dtype uint8, RGB, already downscaled to the
model's pixel budget. Stamps are the camera's header stamps in integer nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Clip:
    """The frames of one camera that go to the model together.

    Attributes:
        camera: Camera name (e.g. the image topic), used to label the clip in the prompt.
        frame_id: ``header.frame_id`` of the newest frame.
        frames: RGB uint8 images, oldest first, all of the same shape.
        stamps_ns: Camera stamps of ``frames``, strictly increasing.
        fps: Effective sampling rate of the clip (frames per second of camera time).
    """

    camera: str
    frame_id: str
    frames: tuple[Image, ...]
    stamps_ns: tuple[int, ...]
    fps: float

    @property
    def oldest_ns(self) -> int:
        return self.stamps_ns[0]

    @property
    def newest_ns(self) -> int:
        return self.stamps_ns[-1]


@dataclass(frozen=True)
class WindowSnapshot:
    """An immutable copy of what the frame windows held at one instant: one clip per camera.

    Cameras with no frames are left out. ``newest_*`` describe the newest frame over all clips:
    a decision made from this snapshot is stamped with it.
    """

    clips: tuple[Clip, ...]

    @property
    def empty(self) -> bool:
        return not self.clips

    @property
    def frame_count(self) -> int:
        return sum(len(c.frames) for c in self.clips)

    @property
    def oldest_ns(self) -> int:
        return min(c.oldest_ns for c in self.clips)

    @property
    def newest_ns(self) -> int:
        return max(c.newest_ns for c in self.clips)

    @property
    def newest_frame_id(self) -> str:
        return max(self.clips, key=lambda c: c.newest_ns).frame_id
