"""Ingestion throughput of ImageExampleGen per source, next to a plain single-process loop.

For each source, on the real data in ../shared/data, measures images/s of:

- `loop`: one process lists the inputs, reads them with the same source code and writes the
  same serialized examples to one gzipped TFRecord file: the practical limit of one core;
- `beam-1`: the real ImageExampleGen executor (list, read, reshuffle, write, count rejects)
  on the DirectRunner in memory, one worker;
- `beam-2`: the same on the DirectRunner in multi-processing mode with 2 worker processes;
- `threads-2`: the same on the DirectRunner in multi-threading mode with 2 worker threads in
  this process (image decoding, file reads and TFRecord writing release Python's GIL).

    python -m bench.ingest                               # about 10 minutes on 2 cores
    python -m bench.ingest --sources folder --folder-per-class 1000 --repeats 1
    python -m bench.ingest --sources folder --folder-copies 4 --repeats 1   # 200,000 images
    python -m bench.ingest --modes loop beam-1 threads-2  # the multi-threading mode too

Each source and mode runs `--repeats` times (default 3), modes interleaved, and the median
run is reported. Prints a table and writes JSON (default outputs/bench/ingest.json). The
process's one-time start-up (TensorFlow, Beam's runner) is paid once in a warm-up and
excluded; each Beam row still includes building and running its pipeline and, for beam-2,
starting the 2 worker processes (each imports Beam), as every pipeline run does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
# Beam modes: the DirectRunner's running mode and its number of workers.
BEAM_MODES = {
    "beam-1": ("in_memory", 1),
    "beam-2": ("multi_processing", 2),
    "threads-2": ("multi_threading", 2),
}
MODES = ("loop", *BEAM_MODES)
DEFAULT_MODES = ("loop", "beam-1", "beam-2")  # threads-2 measured slower than both Beam modes


@dataclasses.dataclass(frozen=True)
class Case:
    """One source on one real data set; `splits` overrides the source's own when the shared
    copy lacks some (the CIFAR-100 and KMNIST copies hold the test files only)."""

    source: str
    data_dir: str
    splits: dict[str, str] | None = None
    max_per_class: int | None = None


def cases(args: argparse.Namespace, folder_dir: str) -> dict[str, Case]:
    per_class = args.folder_per_class * args.folder_copies
    return {
        "cifar10": Case("cifar10", str(SHARED / "cifar10-subset")),
        "cifar100": Case("cifar100", str(SHARED / "cifar100-test-subset"), {"eval": "test"}),
        "folder": Case("folder", folder_dir, max_per_class=per_class),
        "kmnist": Case("kmnist", str(SHARED / "kmnist"), {"eval": "t10k-images-idx3-ubyte.gz"}),
    }


def replicated_tree(source: Path, copies: int, per_class: int, root: str) -> str:
    """A class-folder tree under `root` in which the first `per_class` images of each class
    of `source`'s train split appear `copies` times, as symlinks named `<copy>-<name>`: a
    data set larger than any offline one, made of real images. Returns its root."""
    for class_dir in sorted((source / "train").iterdir()):
        target = Path(root, "train", class_dir.name)
        target.mkdir(parents=True)
        for image in sorted(class_dir.iterdir())[:per_class]:
            for copy in range(copies):
                (target / f"{copy}-{image.name}").symlink_to(image)
    return root


def run_loop(case: Case, out_dir: str) -> int:
    """Reads every input in this process and writes the examples; returns their count."""
    import tensorflow as tf

    from components.image_example_gen.sources import Rejected, get_source

    source = get_source(case.source, max_per_class=case.max_per_class)
    data_dir = source.resolve_data_dir(case.data_dir)
    class_names = source.class_names(data_dir)
    count = 0
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(os.path.join(out_dir, "loop.tfrecord.gz"), options) as writer:
        for pattern in (case.splits or source.splits(data_dir)).values():
            for item in source.list_inputs(data_dir, pattern, class_names):
                for record in source.read(item, class_names):
                    if not isinstance(record, Rejected):
                        writer.write(record.SerializeToString(deterministic=True))
                        count += 1
    return count


def run_beam(case: Case, out_dir: str, running_mode: str, workers: int) -> int:
    """Runs the ImageExampleGen executor on the DirectRunner; returns the examples written."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tfx.types import standard_artifacts

    from components.image_example_gen import executor, rejects
    from components.image_example_gen.component import create_image_example_gen
    from components.image_example_gen.sources import get_source

    data_dir = get_source(case.source).resolve_data_dir(case.data_dir)
    component = create_image_example_gen(
        data_dir, case.source, case.splits, max_per_class=case.max_per_class
    )
    options = PipelineOptions([], direct_running_mode=running_mode, direct_num_workers=workers)
    examples = standard_artifacts.Examples()
    examples.uri = out_dir
    context = executor.Executor.Context(
        make_beam_pipeline_fn=lambda: beam.Pipeline(options=options)
    )
    executor.Executor(context).Do({}, {"examples": [examples]}, component.exec_properties)
    return rejects.RejectReport.read(os.path.join(out_dir, rejects.REJECTED_DIR)).examples


def measure(case: Case, mode: str) -> dict:
    out_dir = tempfile.mkdtemp(prefix=f"ingest-{case.source}-{mode}-")
    try:
        start = time.perf_counter()
        images = (
            run_loop(case, out_dir)
            if mode == "loop"
            else run_beam(case, out_dir, *BEAM_MODES[mode])
        )
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return {"images": images, "seconds": round(seconds, 2), "images_per_s": round(images / seconds)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", nargs="+", default=["cifar10", "folder", "kmnist"])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(DEFAULT_MODES))
    parser.add_argument(
        "--folder-per-class",
        type=int,
        default=5000,
        help="images per class of cifar10-jpg (5000: all 50,000)",
    )
    parser.add_argument(
        "--folder-copies",
        type=int,
        default=1,
        help="read each cifar10-jpg image this many times (a tree of symlinks): more images "
        "than any offline data set has",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per source and mode; the median is kept"
    )
    parser.add_argument("--json", default=str(REPO / "outputs" / "bench" / "ingest.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pipeline.logs import quiet_tensorflow

    quiet_tensorflow()
    if not SHARED.is_dir():
        print(f"error: no real data at {SHARED}", file=sys.stderr)
        return 2
    if args.folder_copies == 1:
        return run(args, str(SHARED / "cifar10-jpg"))
    tree = tempfile.mkdtemp(prefix="ingest-tree-")
    try:
        jpg = SHARED / "cifar10-jpg"
        return run(args, replicated_tree(jpg, args.folder_copies, args.folder_per_class, tree))
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def run(args: argparse.Namespace, folder_dir: str) -> int:
    """Measures every source and mode of `args`; `folder_dir` is the folder source's tree."""
    # One-time start-up of this process (TensorFlow kernels, Beam's runner), paid once per
    # pipeline run, not per image: measured once on the small CIFAR-100 copy, then excluded.
    warm_up = {
        mode: measure(cases(args, folder_dir)["cifar100"], mode) for mode in ("loop", "beam-1")
    }
    print(
        f"warm-up (excluded): loop {warm_up['loop']['seconds']} s, beam-1 "
        f"{warm_up['beam-1']['seconds']} s"
    )
    results = []
    print(f"{'source':<10}{'mode':<10}{'images':>8}{'seconds':>9}{'images/s':>10}{'vs loop':>9}")
    for name in args.sources:
        case = cases(args, folder_dir)[name]
        # Modes interleaved within each repeat, so that a drift in the machine's speed (ours
        # varies by 10-15% over minutes) reaches every mode alike; the median run is kept.
        runs: dict[str, list[dict]] = {mode: [] for mode in args.modes}
        for _ in range(args.repeats):
            for mode in args.modes:
                runs[mode].append(measure(case, mode))
        medians = {
            mode: sorted(mode_runs, key=lambda run: run["seconds"])[len(mode_runs) // 2]
            for mode, mode_runs in runs.items()
        }
        loop_rate = medians["loop"]["images_per_s"] if "loop" in medians else None
        for mode in args.modes:
            row = {"source": name, "mode": mode, **medians[mode]}
            row["all_seconds"] = [run["seconds"] for run in runs[mode]]
            ratio = f"{row['images_per_s'] / loop_rate:.2f}x" if loop_rate else "-"
            print(
                f"{name:<10}{mode:<10}{row['images']:>8}{row['seconds']:>9.1f}"
                f"{row['images_per_s']:>10}{ratio:>9}   runs {row['all_seconds']}",
                flush=True,
            )
            results.append(row)
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d"),
        "args": vars(args),
        "warm_up": warm_up,
        "results": results,
    }
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
