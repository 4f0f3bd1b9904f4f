"""One local run per pipeline at a time: an advisory lock next to the pipeline's MLMD store.

Two LocalDagRunner runs of the same pipeline would interleave executions in one SQLite store
and one pipeline root. The second run waits for the first (saying so) or, past its timeout,
stops with the holder's pid and start time.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator

from pipeline.config import PipelineConfig

POLL_SECONDS = 2.0


class PipelineBusyError(RuntimeError):
    """Another process holds the pipeline's lock."""


@contextlib.contextmanager
def pipeline_lock(config: PipelineConfig, timeout: float | None = None) -> Iterator[None]:
    """Holds the pipeline's lock for the `with` block; waits up to `timeout` s (None: forever)."""
    path = os.path.join(os.path.dirname(config.metadata_path), "run.lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a+") as lock_file:
        deadline = None if timeout is None else time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                lock_file.seek(0)
                holder = lock_file.read().strip() or "another process"
                if deadline is not None and time.monotonic() >= deadline:
                    raise PipelineBusyError(
                        f"pipeline {config.name!r} is being run by {holder}; "
                        f"wait for it or use another --name / --output-root"
                    ) from None
                if not announced:
                    print(
                        f"waiting for {holder} to finish pipeline {config.name!r}...",
                        file=sys.stderr,
                    )
                    announced = True
                time.sleep(POLL_SECONDS)
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"pid {os.getpid()} (started {time.strftime('%Y-%m-%d %H:%M:%S')})")
        lock_file.flush()
        try:
            yield
        finally:
            lock_file.truncate(0)
            fcntl.flock(lock_file, fcntl.LOCK_UN)
