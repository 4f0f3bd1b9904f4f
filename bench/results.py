"""Where the benches write their JSON results (git-ignored, under outputs/bench/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[1] / "outputs" / "bench"


def write_result(path: str | Path, result: Any) -> Path:
    """Writes `result` as indented JSON to `path` (creating folders); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(f"written {path}")
    return path
