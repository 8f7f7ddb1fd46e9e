"""Histories the node keeps for as long as it runs are bounded by count, whatever the load."""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from cosmos_reason_ros.ros.diagnostics import DecisionCounters


def test_decision_latency_history_keeps_the_last_200() -> None:
    counters = DecisionCounters()
    for i in range(10_000):
        counters.latencies_s.append(float(i))
    assert len(counters.latencies_s) == 200
    assert counters.latencies_s[0] == 9800.0
    assert counters.p95_s() == 9990.0  # index int(0.95 * 200) of the sorted last 200
