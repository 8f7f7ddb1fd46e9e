"""cosmos_reason_ros: physical common sense for ROS 2 robots with NVIDIA Cosmos-Reason.

The pure-Python engine lives in ``core`` and ``backends`` (no ROS import); the rclpy node in
``ros``; tools in ``tools``. The generated interfaces (``msg``, ``srv``, ``action``) are
installed next to this file by colcon.
"""

from pkgutil import extend_path

# When running from the source tree (scripts/with-env puts it first on PYTHONPATH), the
# generated msg/srv/action modules live in the colcon install tree: let this package span both.
__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
