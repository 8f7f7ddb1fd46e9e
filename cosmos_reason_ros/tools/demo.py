"""``make demo``: the main job end to end, on an embedded tiny model (no GPU, no downloads).

1. writes a scenario bag (a ball rolling toward the camera) with rosbags;
2. starts the ``cosmos_reason`` node (in this process, over real DDS);
3. replays the bag into it live, with its recorded timing;
4. asks "what should I do next?" and prints the decision;
5. evaluates the same bag offline and writes the report;
6. writes ``NODE_PARAMS`` (``tiny_node.yaml``): the node's parameters for the tiny model and the
   bag's camera, for the README's walkthrough "From the demo to a live node".

``--model nvidia/Cosmos3-Nano`` (``make demo MODEL=...``) runs the real model instead.
Exit status (``tools.exits``): 0 done, 1 when the node gave no decision, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

TINY_SETTINGS = {  # the random-weight model fills every string to its bound: keep them short
    "max_new_tokens": 200,
    "max_thinking_tokens": 16,
    "max_reason_chars": 24,
    "max_target_chars": 8,
    "max_parameters": 0,
    "seed": 0,
    "device": "cpu",
}
QUESTION = "What should I do next?"
NODE_PARAMS = "tiny_node.yaml"
"""The params file the demo leaves for ``reason_node --ros-args --params-file``."""
LIVE_PERIOD_S = 2.0
"""``decision_period_s`` in ``NODE_PARAMS``: a decision every 2 s for ``cosmos-reason-watch``."""


def _parser() -> argparse.ArgumentParser:
    from cosmos_reason_ros.exits import ExitCode, exit_epilog
    from cosmos_reason_ros.tools.options import HelpFormatter, add_param_options

    p = argparse.ArgumentParser(
        prog="make demo",
        description=__doc__.splitlines()[0] + " Without --model: the tiny model, on the CPU.",
        epilog=exit_epilog(
            {
                ExitCode.OK: None,
                ExitCode.FAILED: "the node gave no decision",
                ExitCode.INTERRUPTED: None,
            }
        ),
        formatter_class=HelpFormatter,
    )
    add_param_options(p, ["model", "device"], defaults={"model": ""})
    p.add_argument("--out", default="demo_out", help="folder for the bag and the report")
    return p


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Runs the demo; 130 on Ctrl-C or SIGTERM (the node and replay are stopped first)."""
    from cosmos_reason_ros.exits import ExitCode
    from cosmos_reason_ros.tools.options import stop_signals_as_interrupt

    try:
        with stop_signals_as_interrupt():
            return _main(argv)
    except KeyboardInterrupt:
        _say("interrupted")
        return ExitCode.INTERRUPTED


def _shown(path: str | Path) -> str:
    """``path`` relative to the working folder where it is inside it (shorter lines)."""
    p = Path(path).resolve()
    return str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else str(p)


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()

    from cosmos_reason_ros.exits import ExitCode
    from cosmos_reason_ros.tools.options import param_values
    from cosmos_reason_ros.tools.scenario import write_scenario

    tiny = not args.model
    if tiny:
        from cosmos_reason_ros.tools.options import silence_progress_bars

        silence_progress_bars()  # no download-style bars for a model that loads in a blink
        from cosmos_reason_ros.testing.tiny_model import build_tiny_model

        shutil.rmtree(out / "tiny_model", ignore_errors=True)  # everything stays in out/
        model = str(build_tiny_model(out / "tiny_model"))
        _say(f"built the tiny random-weight Qwen2.5-VL test model in {_shown(model)}")
    else:
        model = args.model
    info = fresh_scenario(out, write_scenario)
    _say(
        f"wrote scenario bag {_shown(info.bag_path)} ({len(info.stamps_ns)} frames, event "
        f"'{info.labels.event}' at {(info.labels.event_time_ns - info.stamps_ns[0]) / 1e9:.1f} s)"
    )
    settings: dict[str, Any] = {**(TINY_SETTINGS if tiny else {}), "model": model}
    settings.update(param_values(args, ["device"]))
    decision = _live(info, settings)
    if decision is None:
        return ExitCode.FAILED
    _say("evaluating the same bag offline (cosmos-reason-eval) ...")
    from cosmos_reason_ros.tools.evaluate import evaluate

    params = {k: v for k, v in settings.items() if k not in ("model", "device")}
    summary = evaluate(
        info.bag_path,
        model=model,
        out_dir=out / "eval",
        questions=[QUESTION],
        every_s=1.5,
        labels=info.labels_path,
        device=settings.get("device"),
        params=params,
        progress=False,
    )
    _say(
        f"report: {_shown(out / 'eval' / 'report.html')} ({summary.decisions} decisions, "
        f"{summary.valid} valid, false alarms {summary.false_alarms}/{summary.scored_before} "
        f"before the event, misses {summary.misses}/{summary.scored_after} after it)"
    )
    params_file = write_node_params(out / NODE_PARAMS, settings, info.topics[:1])
    _say(
        f"node parameters for a live run: {_shown(params_file)} "
        "(README: From the demo to a live node)"
    )
    if tiny:
        _say(
            "NOTE: the tiny model has random weights: its text is noise, and only the plumbing "
            "(window, prompt, constrained JSON, validation, messages) is real. For the real "
            "thing on a GPU: make demo MODEL=nvidia/Cosmos3-Nano"
        )
    _say(f"done in {time.monotonic() - t_start:.1f} s")
    return ExitCode.OK


def write_node_params(path: Path, settings: dict[str, Any], topics: list[str]) -> Path:
    """The params file of a live node on ``settings``' model watching ``topics``."""
    import yaml

    values = {
        **settings,
        "model": str(Path(settings["model"]).resolve())
        if Path(settings["model"]).exists()
        else settings["model"],
        "image_topics": list(topics),
        "decision_period_s": LIVE_PERIOD_S,
    }
    header = (
        "# Written by make demo: the cosmos_reason node on the demo's model, watching the\n"
        "# demo bag's camera. scripts/with-env reason_node --ros-args --params-file THIS\n"
    )
    path.write_text(header + yaml.safe_dump({"/**": {"ros__parameters": values}}))
    return path


def fresh_scenario(out: Path, write_scenario: Any) -> Any:
    """Write the scenario bag, replacing the one a previous demo left."""
    for stale in (out / "ball_rolling", out / "ball_rolling.labels.yaml"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    return write_scenario(
        out / "ball_rolling.mcap", event="ball_rolling", duration_s=6.0, rate_hz=15.0
    )


def _live(info: Any, settings: dict[str, Any]) -> Any:
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from cosmos_reason_ros.ros import process
    from cosmos_reason_ros.ros.node import SUCCESS, ReasonNode
    from cosmos_reason_ros.srv import AskNextAction
    from cosmos_reason_ros.tools.message_dicts import response_dict
    from cosmos_reason_ros.tools.replay import replay

    process.init()  # without rclpy's signal handlers: Ctrl-C ends in the finally below
    values = {
        **settings,
        "image_topics": list(info.topics[:1]),
        "autostart": False,
        "decision_period_s": 0.0,
        "max_frame_age_s": 10.0,
        "image_qos": "reliable",
    }
    node = ReasonNode(parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])
    player, client_node = Node("demo_replayer"), Node("demo_client")
    executor = MultiThreadedExecutor(num_threads=6)
    for n in (node, player, client_node):
        executor.add_node(n)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        _say(f"starting node cosmos_reason with model {_shown(settings['model'])} ...")
        if node.trigger_configure() != SUCCESS or node.trigger_activate() != SUCCESS:
            _say("the node failed to configure; see the log above")
            return None
        _say(f"replaying {info.bag_path.name} live into {info.topics[0]} ...")
        replay(info.bag_path, node=player, start_delay_s=5.0, min_subscribers=1)
        client: Any = client_node.create_client(AskNextAction, "/cosmos_reason/ask")
        client.wait_for_service(timeout_sec=10.0)
        _say(f'asking "{QUESTION}"')
        future = client.call_async(AskNextAction.Request(question=QUESTION))
        deadline = time.monotonic() + 600
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        res: Any = future.result()
        if res is None:
            _say("no answer within 600 s")
            return None
        print(json.dumps(response_dict(res), indent=2, ensure_ascii=False), flush=True)
        d = res.action
        _say(f"decision: action={d.action} valid={d.valid} reason={d.reason!r}")
        _say(
            f"latency {res.reasoning.latency_s:.2f} s; frames used: {d.frame_count}, stamps "
            f"{d.window_start.sec}.{d.window_start.nanosec:09d} .. "
            f"{d.header.stamp.sec}.{d.header.stamp.nanosec:09d} (from the bag)"
        )
        return res if res.success else None
    finally:
        executor.shutdown()
        node.close()
        for n in (node, player, client_node):
            n.destroy_node()
        rclpy.shutdown()


if __name__ == "__main__":
    sys.exit(main())
