"""The synthetic room the scenario bags show: wall, floor, table, and one moving thing.

Besides the robot's events (a ball, a falling box, a person crossing) it draws the events alert
rules watch for, each with a look-alike that must not raise them: a person who falls to the
floor (and one who only sits down), a machine that starts to smoke and spark (and one whose
orange status lamp only blinks).

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
        elif event in ("person_falling", "person_sitting"):
            self._standing_person(img, progress, falls=event == "person_falling")
        elif event in ("machine_smoking", "machine_blinking"):
            self._machine(img, progress, smokes=event == "machine_smoking")
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

    def _standing_person(self, img: RgbImage, p: float, *, falls: bool) -> None:
        """A person standing in the room; from the event on either falls over sideways and lies
        on the floor (``falls``), or sits down slowly on a stool (the look-alike)."""
        h = int(self.h * 0.55)
        feet = (int(self.w * 0.40), int(self.h * 0.90))
        t = min(1.0, max(0.0, p) * 3.0)  # the motion takes the first third of the event
        if falls:
            angle, scale = 90.0 * t * t, 1.0
        else:
            stool = (feet[0] + h // 10, feet[1] - h // 4)
            cv2.rectangle(
                img, (stool[0] - h // 8, stool[1]), (stool[0] + h // 8, feet[1]), (70, 70, 70), -1
            )
            angle, scale = 8.0 * t, 1.0 - 0.35 * t
        self._figure(img, feet, int(h * scale), angle)

    def _figure(self, img: RgbImage, feet: tuple[int, int], h: int, angle_deg: float) -> None:
        """A stick figure of height ``h`` standing on ``feet``, tilted by ``angle_deg`` (0 =
        upright, 90 = lying on the floor, head to the right)."""
        a = math.radians(angle_deg)
        up = (math.sin(a), -math.cos(a))

        def at(d: float, side: float = 0.0) -> tuple[int, int]:
            return (
                int(feet[0] + up[0] * d * h - up[1] * side * h),
                int(feet[1] + up[1] * d * h + up[0] * side * h),
            )

        width = max(2, h // 9)
        for side in (-0.06, 0.06):
            cv2.line(img, at(0.0, side), at(0.48), (40, 40, 60), max(2, h // 16), cv2.LINE_AA)
        cv2.line(img, at(0.48), at(0.82), (60, 60, 140), width, cv2.LINE_AA)
        for side in (-0.12, 0.12):
            cv2.line(img, at(0.78), at(0.55, side), (60, 60, 140), max(2, h // 18), cv2.LINE_AA)
        cv2.circle(img, at(0.91), max(2, h // 11), (230, 190, 160), -1, cv2.LINE_AA)

    def _machine(self, img: RgbImage, p: float, *, smokes: bool) -> None:
        """A grey machine on the floor; from the event on either grey smoke rises from it with
        yellow sparks (``smokes``), or its orange status lamp blinks (the look-alike)."""
        x0, y1 = int(self.w * 0.12), int(self.h * 0.88)
        x1, y0 = int(self.w * 0.42), int(self.h * 0.52)
        cv2.rectangle(img, (x0, y0), (x1, y1), (120, 125, 130), -1)
        cv2.rectangle(img, (x0, y0), (x1, y1), (60, 60, 65), 2)
        cv2.rectangle(img, (x0 + 6, y0 + 8), ((x0 + x1) // 2, y0 + 20), (40, 60, 40), -1)
        lamp = (x1 - 10, y0 + 12)
        if p < 0:
            cv2.circle(img, lamp, 4, (90, 90, 90), -1, cv2.LINE_AA)
            return
        if not smokes:
            on = int(p * 12) % 2 == 0
            cv2.circle(img, lamp, 5, (255, 150, 20) if on else (90, 90, 90), -1, cv2.LINE_AA)
            return
        cv2.circle(img, lamp, 4, (90, 90, 90), -1, cv2.LINE_AA)
        puffs = 2 + int(8 * min(1.0, p * 2))
        smoke = img.copy()
        for k in range(puffs):
            rise = (k / puffs + p * 1.5) % 1.0
            cx = int((x0 + x1) / 2 + math.sin(k * 1.7 + p * 4) * self.w * 0.04)
            cy = int(y0 - rise * self.h * 0.40)
            r = max(3, int(self.h * (0.04 + 0.08 * rise)))
            cv2.circle(smoke, (cx, cy), r, (95, 95, 95), -1, cv2.LINE_AA)
        cv2.addWeighted(smoke, 0.7, img, 0.3, 0, dst=img)
        for _ in range(6):  # sparks: short bright strokes from the top edge
            sx = int(self.rng.integers(x0, x1))
            dx, dy = (int(v) for v in self.rng.integers(-12, 13, size=2))
            cv2.line(img, (sx, y0), (sx + dx, y0 - abs(dy) - 3), (255, 230, 60), 2, cv2.LINE_AA)
