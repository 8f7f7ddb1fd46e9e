"""``python -m cosmos_reason_ros.node``: run the ``cosmos_reason`` node (same as reason_node)."""

import sys

from cosmos_reason_ros.ros.node import main

if __name__ == "__main__":
    sys.exit(main())
