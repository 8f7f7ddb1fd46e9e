"""Parameters, part of ``config.specs``: the node itself."""

from __future__ import annotations

from cosmos_reason_ros.config.param import ParamSpec

NODE: tuple[ParamSpec, ...] = (
    ParamSpec(
        "diagnostics_period_s",
        1.0,
        "Seconds between /diagnostics messages",
        low=0.1,
        high=60.0,
    ),
    ParamSpec(
        "autostart",
        True,
        "Configure and activate on start; false: a lifecycle manager drives the node",
    ),
)
