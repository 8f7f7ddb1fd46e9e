"""``~/debug_image``: the newest frame with the action, confidence and reason drawn on it."""

from __future__ import annotations

import math

import cv2
import numpy as np

from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.types import Image, WindowSnapshot

_GREEN = (40, 200, 40)
_RED = (220, 40, 40)


def newest_frame(snapshot: WindowSnapshot) -> Image | None:
    """The newest frame over all clips of ``snapshot``."""
    if snapshot.empty:
        return None
    clip = max(snapshot.clips, key=lambda c: c.newest_ns)
    return clip.frames[-1]


def annotate(frame: Image, decision: Decision, min_width: int = 448) -> Image:
    """A copy of ``frame`` (upscaled to ``min_width`` for legibility) with the decision on it."""
    scale = max(1.0, min_width / frame.shape[1])
    size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
    out = cv2.resize(frame, size, interpolation=cv2.INTER_NEAREST) if scale > 1 else frame.copy()
    conf = "?" if math.isnan(decision.confidence) else f"{decision.confidence:.2f}"
    head = f"#{decision.decision_id} {decision.action} ({conf})"
    if not decision.valid:
        head += " INVALID"
    reason = " ".join(decision.reason.split())[:80]
    band = np.zeros((44, out.shape[1], 3), np.uint8)
    color = _GREEN if decision.valid else _RED
    cv2.putText(band, head, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, color, 1, cv2.LINE_AA)
    cv2.putText(
        band, reason, (6, 37), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1, cv2.LINE_AA
    )
    return np.ascontiguousarray(np.vstack([band, out]))
