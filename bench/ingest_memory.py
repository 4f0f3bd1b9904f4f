"""Peak memory of ImageExampleGen against the number of images it ingests.

Runs the real executor on the DirectRunner (in memory, one worker: everything in one
process) over growing class-folder trees of the real `cifar10-jpg` JPEGs (see
`bench.ingest.replicated_tree`), each in a fresh process, and prints that process's peak
resident memory. What grows with the images is what the runner keeps per image; the
process's own start-up (TensorFlow, TFX, Beam) is the first row's bulk.

    python -m bench.ingest_memory                          # 5,000 / 50,000 / 200,000 images
    python -m bench.ingest_memory --images 5000 400000     # any sizes (multiples of 10)
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import sys
import tempfile

from bench.ingest import SHARED, Case, measure, replicated_tree

_CLASSES = 10
_PER_CLASS_AVAILABLE = 5000  # cifar10-jpg's train split


def _peak_rss_mb(images: int) -> tuple[int, float, float]:
    """In a fresh process: ingests `images` JPEGs; returns (images read, seconds, peak MB)."""
    from pipeline.logs import quiet_tensorflow

    quiet_tensorflow()
    per_class = images // _CLASSES
    copies = -(-per_class // _PER_CLASS_AVAILABLE)
    tree = tempfile.mkdtemp(prefix="ingest-memory-")
    try:
        root = replicated_tree(
            SHARED / "cifar10-jpg", copies, min(per_class, _PER_CLASS_AVAILABLE), tree
        )
        result = measure(Case("folder", root, max_per_class=per_class), "beam-1")
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return result["images"], result["seconds"], peak_kb / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[5_000, 50_000, 200_000])
    args = parser.parse_args(argv)
    if not (SHARED / "cifar10-jpg").is_dir():
        print(f"error: no real data at {SHARED / 'cifar10-jpg'}", file=sys.stderr)
        return 2
    print(f"{'images':>8}{'seconds':>9}{'peak MB':>9}{'kB per image over the first':>30}")
    spawn = multiprocessing.get_context("spawn")
    first = None
    for images in args.images:
        with spawn.Pool(1) as pool:
            read, seconds, peak_mb = pool.apply(_peak_rss_mb, (images,))
        first = first or (read, peak_mb)
        growth = (
            f"{(peak_mb - first[1]) * 1024 / (read - first[0]):.2f}" if read > first[0] else "-"
        )
        print(f"{read:>8}{seconds:>9.1f}{peak_mb:>9.0f}{growth:>30}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
