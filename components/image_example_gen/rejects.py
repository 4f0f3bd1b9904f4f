"""The `rejected` output of ImageExampleGen: what could not become an example, and why.

For each input split the pipeline writes, under `<examples artifact>/rejected/`:

- `<split>-NNNNN-of-NNNNN.jsonl`: one JSON object per rejected input,
  `{"split", "source_id", "reason", "detail", "count"}`, `count` being the images it stands
  for (1, or for a whole unreadable batch file the images it was meant to hold);
- `<split>-summary.json`: `{"examples": <count>, "<reason>": <rejected images>, ...}`.

After the pipeline, `RejectReport.read` sums the summaries and `check` fails the run when
the rejected fraction exceeds its limit; the executor then first copies the records to
`<component dir>/rejected/<execution id>/`, since TFX deletes a failed execution's outputs.
"""

import collections
import dataclasses
import json

import apache_beam as beam
import tensorflow as tf

from components.image_example_gen.sources import base

REJECTED_DIR = "rejected"
DEFAULT_MAX_REJECTED_FRACTION = 0.001
_EXAMPLES = "examples"
_SUMMARY_SUFFIX = "-summary.json"


class TooManyRejectsError(ValueError):
    """More inputs were rejected than the configured fraction allows."""


def write_rejects(
    examples: beam.pvalue.PCollection,
    rejected: beam.pvalue.PCollection,
    rejected_dir: str,
    split: str,
) -> None:
    """Writes the rejected records of `split` as JSON lines, and the split's counts."""
    _ = (
        rejected
        | "RejectedToJson"
        >> beam.Map(lambda r: json.dumps({"split": split, **dataclasses.asdict(r)}))
        | "WriteRejected"
        >> beam.io.WriteToText(base.join(rejected_dir, split), file_name_suffix=".jsonl")
    )
    reason_counts = (
        rejected
        | "Reasons" >> beam.Map(lambda r: (r.reason, r.count))
        | "CountReasons" >> beam.CombinePerKey(sum)
    )
    _ = (
        examples
        # Combiner lifting counts within each bundle: no per-example shuffle.
        | "CountExamples" >> beam.combiners.Count.Globally()
        | "WriteSummary"
        >> beam.Map(
            _write_summary,
            base.join(rejected_dir, split + _SUMMARY_SUFFIX),
            reasons=beam.pvalue.AsDict(reason_counts),
        )
    )


def _write_summary(examples: int, path: str, reasons: dict[str, int]) -> None:
    """Writes the one summary line of a split (a rerun task writes the same file again)."""
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps({_EXAMPLES: examples, **reasons}, sort_keys=True) + "\n")


@dataclasses.dataclass(frozen=True)
class RejectReport:
    """Counts over all splits of one ImageExampleGen run.

    Attributes:
      examples: examples written.
      rejected: rejected images per reason (an unreadable batch file counts its images).
      rejected_dir: where the per-input records are.
    """

    examples: int
    rejected: dict[str, int]
    rejected_dir: str

    @classmethod
    def read(cls, rejected_dir: str) -> "RejectReport":
        counts: collections.Counter[str] = collections.Counter()
        for path in tf.io.gfile.glob(base.join(rejected_dir, "*" + _SUMMARY_SUFFIX)):
            with tf.io.gfile.GFile(path) as f:
                counts.update(json.loads(f.read()))
        examples = counts.pop(_EXAMPLES, 0)
        return cls(examples, dict(sorted(counts.items())), rejected_dir)

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def fraction(self) -> float:
        """Rejected inputs / (examples + rejected inputs); 0 when there were none."""
        total = self.examples + self.total_rejected
        return self.total_rejected / total if total else 0.0

    def summary(self) -> str:
        """One line: the counts, the fraction, and where the records are."""
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.rejected.items())
        return (
            f"rejected {self.total_rejected} of {self.examples + self.total_rejected} inputs "
            f"({self.fraction:.3%}): {reasons or 'none'}; records in {self.rejected_dir}"
        )

    def copied_to(self, dest_dir: str) -> "RejectReport":
        """Copies the records and summaries to `dest_dir`; returns the report pointing there.

        TFX deletes the outputs of a failed execution, so a run that fails on rejects keeps
        its records outside the Examples artifact with this.
        """
        tf.io.gfile.makedirs(dest_dir)
        for name in tf.io.gfile.listdir(self.rejected_dir):
            src = base.join(self.rejected_dir, name)
            tf.io.gfile.copy(src, base.join(dest_dir, name), overwrite=True)
        return dataclasses.replace(self, rejected_dir=dest_dir)

    def check(self, max_fraction: float) -> None:
        """Raises TooManyRejectsError when the rejected fraction exceeds `max_fraction`."""
        if self.fraction > max_fraction:
            raise TooManyRejectsError(
                f"{self.summary()} — more than the allowed {max_fraction:.3%} "
                "(data.max_rejected_fraction)"
            )
