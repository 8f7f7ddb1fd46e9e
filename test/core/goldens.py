"""Golden-file comparison shared by the prompt and upstream-recipe tests.

``COSMOS_REASON_REGENERATE_GOLDEN=1`` rewrites the files instead; review the diff after.
"""

from __future__ import annotations

import os
from pathlib import Path

REGENERATE = os.environ.get("COSMOS_REASON_REGENERATE_GOLDEN") == "1"


def check_golden(path: Path, text: str) -> None:
    """``text`` must equal the golden file at ``path`` (written instead when regenerating)."""
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: set COSMOS_REASON_REGENERATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"render differs from {path}"
