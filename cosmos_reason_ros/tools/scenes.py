"""The synthetic room the scenario bags show: wall, floor, table, and one moving thing.

Plain numpy/OpenCV drawing, deterministic for a given size and seed.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

RgbImage = npt.NDArray[np.uint8]


class SceneRenderer:
    """Draws the static room once and the moving object per frame (RGB, uint8).

    Deterministic: the same size and seed give the same frames in the same order. Not
    thread-safe (the noise generator advances with every frame).
    """

    def __init__(self, width: int, height: int, seed: int) -> None:
        self.w, self.h = width, height
        self.rng = np.random.default_rng(seed)
        self.horizon = int(height * 0.45)
        self.background = self._room()

    def _room(self) -> RgbImage:
        w, h, hz = self.w, self.h, self.horizon
        img = np.empty((h, w, 3), np.uint8)
        img[:hz] = (200, 205, 210)  # wall
        rows = np.linspace(0.0, 1.0, h - hz)[:, None]
        floor = np.array([150, 120, 90]) * (0.75 + 0.25 * rows)
        img[hz:] = floor[:, None, :].astype(np.uint8)
        texture = self.rng.integers(-8, 9, size=(h - hz, w, 1))
        img[hz:] = np.clip(img[hz:].astype(np.int16) + texture, 0, 255).astype(np.uint8)
        for k in range(-4, 5):  # floor boards converging at the horizon
            cv2.line(
                img,
                (w // 2 + k * w // 16, hz),
                (w // 2 + k * w // 2, h),
                (120, 95, 70),
                1,
                cv2.LINE_AA,
            )
        top, legs = self.table_top, (90, 70, 50)
        cv2.rectangle(img, (top[0], top[1]), (top[2], top[3]), (110, 80, 55), -1)
        for x in (top[0] + 3, top[2] - 6):
            cv2.rectangle(img, (x, top[3]), (x + 3, int(h * 0.62)), legs, -1)
        return img

    @property
    def table_top(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the table top, on the right-hand side of the room."""
        w, h = self.w, self.h
        return int(w * 0.58), int(h * 0.38), int(w * 0.88), int(h * 0.42)

    def render(self, event: str, progress: float) -> RgbImage:
        """The frame at ``progress`` (< 0 before the event, 0..1 from event to end)."""
        img = self.background.copy()
        if event == "ball_rolling":
            self._ball(img, progress)
        elif event == "object_falling":
            self._falling_box(img, progress)
        else:
            self._person(img, progress)
        noise = self.rng.integers(-3, 4, size=img.shape, dtype=np.int16)
        out: RgbImage = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        return out

    def _ball(self, img: RgbImage, p: float) -> None:
        # At rest near the far wall, then rolls toward the camera, growing as it comes.
        s = max(0.0, p) ** 1.5
        y = int(self.horizon + 6 + s * (self.h * 0.95 - self.horizon - 6))
        r = max(2, int(self.h * (0.03 + 0.30 * s)))
        cx = int(self.w * (0.45 + 0.05 * s))
        cv2.ellipse(
            img,
            (cx, min(self.h - 1, y + r // 2)),
            (r, max(1, r // 4)),
            0,
            0,
            360,
            (90, 70, 55),
            -1,
            cv2.LINE_AA,
        )  # shadow
        cv2.circle(img, (cx, y - r // 2), r, (220, 40, 30), -1, cv2.LINE_AA)
        cv2.circle(
            img,
            (cx - r // 3, y - r // 2 - r // 3),
            max(1, r // 4),
            (250, 160, 150),
            -1,
            cv2.LINE_AA,
        )

    def _falling_box(self, img: RgbImage, p: float) -> None:
        x0, y0, x1, _ = self.table_top
        size = max(4, int(self.h * 0.08))
        floor_y = int(self.h * 0.70)
        if p < 0:  # sliding slowly toward the left edge of the table
            slide = 1.0 + p  # p goes from -1 to 0 before the event
            left = int(x0 + (x1 - x0) * 0.5 - slide * (x1 - x0) * 0.5 + size * 0.1)
            top = y0 - size
        else:  # off the edge: falls with constant acceleration, lands, stays
            t = min(1.0, p * 2.5)
            left = int(x0 - size * 0.6 - p * size)
            top = int(y0 - size + t * t * (floor_y - y0))
        cv2.rectangle(img, (left, top), (left + size, top + size), (40, 90, 200), -1)
        cv2.rectangle(img, (left, top), (left + size, top + size), (20, 40, 100), 1)

    def _person(self, img: RgbImage, p: float) -> None:
        if p < 0:
            return  # not in view yet
        h = int(self.h * 0.62)
        cx = int(-self.w * 0.1 + p * self.w * 1.2)
        feet = int(self.h * 0.92)
        head_r = max(2, h // 10)
        body = (60, 60, 140)
        cv2.circle(img, (cx, feet - h + head_r), head_r, (230, 190, 160), -1, cv2.LINE_AA)
        cv2.rectangle(
            img, (cx - h // 8, feet - h + 2 * head_r), (cx + h // 8, feet - h // 2), body, -1
        )
        swing = int(math.sin(p * 12 * math.pi) * h // 10)
        for dx in (-swing, swing):
            cv2.line(
                img,
                (cx, feet - h // 2),
                (cx + dx, feet),
                (40, 40, 60),
                max(2, h // 14),
                cv2.LINE_AA,
            )
