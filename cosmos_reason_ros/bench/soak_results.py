"""From what the soak collected to a ``SoakReport`` (without verdicts): the warm-up left out,
decisions split by trigger, slot fill from the node's own counters and clock, the node's heap
from its probe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cosmos_reason_ros.bench.soak_figures import Spread, memory_trend, slot_fill
from cosmos_reason_ros.bench.soak_monitor import Monitor
from cosmos_reason_ros.bench.soak_report import CAMERAS, CameraResult, SoakReport, SoakSettings


def probe_rows(path: Path, startup_s: float) -> list[dict[str, Any]]:
    """The node's probe lines, their ``t`` moved to the soak's clock (measurement start)."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{**row, "t": row["t"] - startup_s} for row in rows]


def _cameras(
    mon: Monitor, warmup_at: float, publish_end: float, sample_fps: float
) -> tuple[CameraResult, ...]:
    reports = [r for r in mon.camera_reports if warmup_at <= r[0] <= publish_end]
    out = []
    for topic, encoding in CAMERAS:
        final = mon.camera_diag.get(topic, {})
        kept, seconds, fill, lowest = 0, 0.0, float("nan"), ""
        if len(reports) >= 2:
            (_, ns0, first), (_, ns1, last) = reports[0], reports[-1]
            kept = int(last[topic]["kept"]) - int(first[topic]["kept"])
            seconds = (ns1 - ns0) * 1e-9
            fill = slot_fill(kept, seconds, sample_fps)
            fills = [r[2][topic]["window_fill"] for r in reports]
            lowest = min(fills, key=lambda f: int(f.split("/")[0]))
        out.append(
            CameraResult(
                topic,
                encoding,
                mon.published[topic],
                int(final.get("received", 0)),
                int(final.get("invalid", 0)),
                kept,
                seconds,
                fill,
                lowest,
            )
        )
    return tuple(out)


def build_report(
    s: SoakSettings,
    *,
    startup_s: float,
    m: dict[str, Any],
    mon: Monitor,
    probe: list[dict[str, Any]],
    alive: bool,
    exit_code: int | None,
) -> SoakReport:

    warmup_at = m["start"] + s.effective_warmup_s
    rows = [
        r
        for r in probe
        if s.effective_warmup_s <= r["t"] <= m["ran_s"] and r.get("event") == "tick"
    ]
    heap = {"first": rows[0], "last": rows[-1]} if rows else {"first": {}, "last": {}}
    with mon.lock:
        seen = [d for d in mon.decisions if d.received_s >= warmup_at]
        asks = [d.latency_s for d in seen if d.decision_id in mon.ask_ids]
        periodic = [d.latency_s for d in seen if d.decision_id not in mon.ask_ids]
        diag = dict(mon.reasoner)
        counts = {
            k: int(diag.get(f"decisions_{k}", 0)) for k in ("made", "skipped", "failed", "invalid")
        }
        return SoakReport(
            settings=s,
            startup_s=startup_s,
            ran_s=m["ran_s"],
            publish_s=mon.publish_s,
            load_average=m["load_average"],
            cpu_node=m["cpu_node"],
            cpu_soak=m["cpu_soak"],
            rss_samples=m["samples"],
            rss=memory_trend(
                [
                    (row["t"], row["rss_mb"])
                    for row in probe
                    if row.get("event") == "decision" and row["t"] <= m["ran_s"]
                ],
                m["samples"],
                s.effective_warmup_s,
            ),
            rss_peak_mb=max((v for _, v in m["samples"]), default=0.0),
            threads_end=m["threads_end"],
            threads_max=m["threads_max"],
            heap=heap,
            decisions_made=counts["made"],
            decisions_skipped=counts["skipped"],
            decisions_failed=counts["failed"],
            decisions_invalid=counts["invalid"],
            cameras=_cameras(mon, warmup_at, m["publish_end"], float(m["sample_fps"])),
            periodic_latency=Spread.of(periodic),
            ask_latency=Spread.of(asks),
            ask_round_trip=Spread.of([rt for t, rt in mon.ask_round_trips if t >= warmup_at]),
            frame_age=Spread.of([d.age_at_start_s for d in seen]),
            decisions=tuple(
                (
                    d.decision_id,
                    "ask" if d.decision_id in mon.ask_ids else "periodic",
                    round(d.latency_s, 4),
                    round(d.age_at_start_s, 4),
                    d.generated_tokens,
                    round(d.time_to_first_token_s, 4),
                )
                for d in seen
            ),
            asks_ok=mon.asks_ok,
            asks_failed=mon.asks_failed,
            ask_errors=tuple(mon.ask_errors[:5]),
            actions_valid=mon.valid,
            actions_fallback=mon.fallbacks,
            actions_bad=tuple(mon.bad),
            alive_at_end=alive,
            exit_code=exit_code,
            verdicts=(),
        )
