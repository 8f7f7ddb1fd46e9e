"""The rclpy shell around the core: the ``cosmos_reason`` lifecycle node and its parts."""
