"""One table of every throughput the benches measured: ingestion, training, inference, serving.

    python -m bench.summary                 # reads outputs/bench/*.json written by the benches

Run the benches first (`python -m bench.ingest`, `bench.train_throughput`,
`bench.serving_latency`); a missing result is listed as such, never invented.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load(directory: Path, name: str) -> dict | None:
    path = directory / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def rows(directory: Path) -> list[tuple[str, str, float | None]]:
    """(stage, what, images per second) for every measurement found under `directory`."""
    table: list[tuple[str, str, float | None]] = []
    ingest = _load(directory, "ingest")
    for result in (ingest or {}).get("results", []):
        table.append(("ingestion", f"{result['source']} {result['mode']}", result["images_per_s"]))
    throughput = _load(directory, "train_throughput")
    for row in (throughput or {}).get("rows", []):
        what = f"{row['model']} @{row['image_size']}px batch {row['batch']}"
        table.append(("training", what, row["train_images_per_s"]))
        table.append(("inference", what, row["infer_images_per_s"]))
    serving = _load(directory, "serving_latency")
    for row in (serving or {}).get("rows", []):
        what = f"pushed model, raw bytes, batch {row['batch']} (p50 {row['p50_ms']:.2f} ms)"
        table.append(("serving", what, row["images_per_s"]))
    for name, found in (
        ("ingest", ingest),
        ("train_throughput", throughput),
        ("serving_latency", serving),
    ):
        if found is None:
            table.append((name, "not measured: run python -m bench." + name, None))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=str(REPO / "outputs" / "bench"))
    args = parser.parse_args(argv)
    print(f"{'stage':<11}{'what':<58}{'images/s':>10}")
    for stage, what, rate in rows(Path(args.dir)):
        print(f"{stage:<11}{what:<58}{'-' if rate is None else f'{rate:,.0f}':>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
