"""Helpers that tests share: the tiny test checkpoint builder (``tiny_model``).

Nothing is imported here, so ``python -m cosmos_reason_ros.testing.tiny_model`` runs cleanly and
importing the package stays light; import ``cosmos_reason_ros.testing.tiny_model`` for
``build_tiny_model``.
"""
