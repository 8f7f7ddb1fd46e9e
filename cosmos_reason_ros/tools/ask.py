"""``cosmos-reason-ask``: call the node's ``~/ask`` service and print the decision as JSON.

    cosmos-reason-ask "what should I do next?" [--choices stop,wait] [--node /cosmos_reason]

Useful where ``ros2 service call`` is not installed. Exit code 0 on success=true, 1 when the
node answered success=false, 2 when it could not be reached.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cosmos-reason-ask", description=__doc__.splitlines()[0])
    p.add_argument("question", nargs="?", default="", help="empty: the node's default question")
    p.add_argument("--choices", default="", help="comma-separated allowed answers")
    p.add_argument("--node", default="/cosmos_reason", help="fully qualified node name")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the answer")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the thinking")
    return p


def response_dict(res: Any, verbose: bool = False) -> dict[str, Any]:
    """The AskNextAction response as a JSON-ready dict (NextAction field names)."""
    a, r = res.action, res.reasoning
    out: dict[str, Any] = {
        "success": res.success,
        "message": res.message,
        "decision_id": a.decision_id,
        "action": a.action,
        "target": a.target,
        "parameters": {kv.key: kv.value for kv in a.parameters},
        "confidence": None if math.isnan(a.confidence) else round(float(a.confidence), 4),
        "valid": a.valid,
        "reason": a.reason,
        "stamp": f"{a.header.stamp.sec}.{a.header.stamp.nanosec:09d}",
        "frame_id": a.header.frame_id,
        "window_start": f"{a.window_start.sec}.{a.window_start.nanosec:09d}",
        "frame_count": a.frame_count,
        "question": r.question,
        "model": r.model,
        "latency_s": round(float(r.latency_s), 3),
        "time_to_first_token_s": round(float(r.time_to_first_token_s), 3),
        "prompt_tokens": r.prompt_tokens,
        "generated_tokens": r.generated_tokens,
    }
    if verbose:
        out["thinking"] = r.thinking
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import rclpy
    from rclpy.node import Node

    from cosmos_reason_ros.srv import AskNextAction

    rclpy.init()
    node = Node("cosmos_reason_ask")
    try:
        client: Any = node.create_client(AskNextAction, f"{args.node.rstrip('/')}/ask")
        if not client.wait_for_service(timeout_sec=10.0):
            print(f"error: service {client.srv_name} not available", file=sys.stderr)
            return 2
        choices = [c.strip() for c in args.choices.split(",") if c.strip()]
        future = client.call_async(AskNextAction.Request(question=args.question, choices=choices))
        rclpy.spin_until_future_complete(node, future, timeout_sec=args.timeout)
        if not future.done():
            print(f"error: no answer within {args.timeout:g} s", file=sys.stderr)
            return 2
        res: Any = future.result()
        print(json.dumps(response_dict(res, args.verbose), ensure_ascii=False, indent=2))
        return 0 if res.success else 1
    finally:
        node.destroy_node()
        rclpy.shutdown()


if __name__ == "__main__":
    sys.exit(main())
