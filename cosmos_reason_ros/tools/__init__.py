"""Command-line tools: the ``cosmos-reason`` CLI, scenarios, replay, evaluation."""
