"""The one CLI of the project.

    python pipeline_runner.py --runner=local              # run on the embedded CIFAR-10 sample
    python pipeline_runner.py --preset cifar10 --data-dir ~/data/cifar-10-batches-py
    python pipeline_runner.py --runner=vertex --image IMAGE --output-root gs://BUCKET/vt-tfx
    python pipeline_runner.py COMMAND --help              # each command's flags

Commands (the first argument; `run` when omitted):
    run       run the pipeline (default) or compile it for Kubeflow / Vertex AI
    predict   classify image files with the latest pushed model (or --model PATH)
    evaluate  score a run's two models on its held-out test split (or --split NAME)
    report    write a run's HTML report (curves, confusion, mistakes, slices, decision)
    slices    print a run's TFMA slice metrics as a table (--metric, --sort)
    clean     remove old runs' outputs (--keep N); pushed versions are never touched

Exit status: 0 on success, 2 for a usage or data error, 3 when no model cleared the gate.
"""

from __future__ import annotations

import importlib
import sys

from pipeline.cli import EXIT_USAGE, USER_ERRORS
from pipeline.logs import quiet_tensorflow

quiet_tensorflow()

COMMANDS = {
    "run": "pipeline.commands.run",
    "predict": "pipeline.commands.predict",
    "evaluate": "pipeline.commands.evaluate",
    "report": "pipeline.commands.report",
    "slices": "pipeline.commands.slices",
    "clean": "pipeline.commands.clean",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print()
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "run"
    try:
        return importlib.import_module(COMMANDS[command]).main(argv)
    except USER_ERRORS as error:  # one line, for every command: see pipeline.cli
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
