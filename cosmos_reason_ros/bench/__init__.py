"""What measures the package: ``make bench`` (``python -m cosmos_reason_ros.bench``) and
``make soak`` (``python -m cosmos_reason_ros.bench.soak``). Not for users' robots: tools they
run live in ``tools``."""
