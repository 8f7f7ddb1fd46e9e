"""Write config/reason.yaml from the parameter declarations (the single source of defaults).

    scripts/with-env python scripts/gen_reason_yaml.py > config/reason.yaml

test/test_config_files.py fails when the file and the declarations disagree.
"""

from __future__ import annotations

import json
import textwrap

from cosmos_reason_ros.config import SPECS


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and not value:
        return "[]"
    if isinstance(value, list):
        return "\n" + "\n".join(f"      - {json.dumps(v)}" for v in value)
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def main() -> None:
    print("# cosmos_reason node parameters: every parameter with its default.")
    print("# Generated from cosmos_reason_ros/config/specs.py by scripts/gen_reason_yaml.py;")
    print("# copy it and edit the copy (launch with params_file:=...).")
    print("# [live]: may change at run time (ros2 param set); others change through")
    print("# deactivate -> cleanup -> set -> configure.")
    print("# [launch-time only]: set here, with -p or in the launch file; read-only once the")
    print("# node is up, because it decides what code runs, where data goes or which secret is")
    print("# read (docs/security.md).")
    print("/**:")
    print("  ros__parameters:")
    for spec in SPECS:
        text = spec.description
        if spec.choices:
            text += f" (one of: {', '.join(spec.choices)})"
        if spec.low is not None:
            text += f" [range {spec.low:g} .. {spec.high:g}]"
        if spec.live:
            text += " [live]"
        if spec.launch_only:
            text += " [launch-time only]"
        for line in textwrap.wrap(text, 90):
            print(f"    # {line}")
        print(f"    {spec.name}: {_value(spec.default)}")


if __name__ == "__main__":
    main()
