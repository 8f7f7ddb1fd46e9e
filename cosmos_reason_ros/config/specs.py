"""Every node parameter, declared once: name, default, description, range, whether it may
change while the node is configured (``live``) or only at launch (``launch_only``), and the
``NodeConfig`` field it sets (``to``).

Pure Python (no rclpy), so the node, the CLIs, eval, bench and the tests all read this one
table. It is kept in five parts by topic (``params_model``, ``params_input``,
``params_answer``, ``params_sampling``, ``params_node``). A ``family`` parameter's default,
-1, stands for the model family's upstream value (``core.recipes``: Reason1 or Reason2, with or
without thinking), resolved by ``build_config``. Adding a parameter is one ``ParamSpec`` in its
part (plus ``make`` regenerating ``config/reason.yaml``); ``build.build_config`` routes its
value by ``to``.
"""

from __future__ import annotations

from cosmos_reason_ros.config.param import ParamSpec, Value
from cosmos_reason_ros.config.params_answer import ANSWER
from cosmos_reason_ros.config.params_input import INPUT
from cosmos_reason_ros.config.params_model import MODEL
from cosmos_reason_ros.config.params_node import NODE
from cosmos_reason_ros.config.params_sampling import SAMPLING
from cosmos_reason_ros.core.action_space import DEFAULT_ACTIONS, FALLBACK_RULE

__all__ = ["DEFAULT_ACTIONS", "FALLBACK_RULE", "SPECS", "SPEC_BY_NAME", "ParamSpec", "Value"]

SPECS: tuple[ParamSpec, ...] = (*MODEL, *INPUT, *ANSWER, *SAMPLING, *NODE)

SPEC_BY_NAME: dict[str, ParamSpec] = {s.name: s for s in SPECS}
