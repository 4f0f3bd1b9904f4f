"""Reads the ILSVRC2012 devkit's meta.mat from standard input and writes its synsets to
standard output as JSON lines `[ILSVRC2012_ID, WNID, words]`.

Run as a separate process by `imagenet._load_synsets` (by its path, so that it imports
scipy and nothing of this project): scipy's MAT reader is C code that a damaged file can
crash with SIGBUS, which must not take the pipeline down. Exit status 1 with the error on
standard error when the file holds no readable synsets.
"""

import io
import json
import resource
import sys

import numpy as np
import scipy.io

# The devkit's meta.mat holds 1,860 small records; a damaged one may declare arrays of many
# GB, which the reader would spend a long time filling (a fuzz test found one): with this
# address-space limit it fails at once (docs/benchmarks.md#untrusted-data).
MEMORY_LIMIT_BYTES = 2 * 2**30


def main() -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    try:
        meta = scipy.io.loadmat(io.BytesIO(sys.stdin.buffer.read()), squeeze_me=True)
        rows = [
            [int(s["ILSVRC2012_ID"]), str(s["WNID"]), str(s["words"])]
            for s in np.atleast_1d(meta["synsets"])
        ]
    except Exception as error:  # scipy raises a dozen types for a damaged file
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    sys.stdout.write("".join(json.dumps(row) + "\n" for row in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
