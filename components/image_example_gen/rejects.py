"""The `rejected` output of ImageExampleGen: what could not become an example, and why.

For each input split the pipeline writes, under `<examples artifact>/rejected/`:

- `<split>-00000-of-00001.jsonl`: one JSON object per rejected input, sorted by source id,
  `{"split", "source_id", "reason", "detail", "count"}`, `count` being the images it stands
  for (1, or for a whole unreadable batch file the images it was meant to hold);
- `<split>-summary.json`: `{"examples": <count>, "<reason>": <rejected images>, ...}`;
- `<split>-classes.json`: `{"<output split>": {"<label>": <examples>, ...}, ...}`, the
  examples of each class (by label: ImageNet's names repeat) that the input split gave each
  output split.

After the pipeline, `RejectReport.read` sums the summaries and `check` fails the run when
the rejected fraction exceeds its limit; the executor then first copies the records to
`<component dir>/rejected/<execution id>/`, since TFX deletes a failed execution's outputs.
"""

import collections
import dataclasses
import json
from collections.abc import Iterable

import apache_beam as beam

from components.image_example_gen import class_counts, files
from components.image_example_gen.sources import base

REJECTED_DIR = "rejected"
_EXAMPLES = "examples"
_SUMMARY_SUFFIX = "-summary.json"
_RECORDS_SUFFIX = "-00000-of-00001.jsonl"  # one file, named as Beam's text sink names them


class TooManyRejectsError(ValueError):
    """More inputs were rejected than the configured fraction allows."""


# (output split, label) -> examples.
ClassCounts = collections.Counter[tuple[str, int]]


@dataclasses.dataclass(frozen=True)
class TaskReport:
    """What one read task produced besides its examples: how many, of which classes in which
    output splits ((output split, label, count) triples), and what it rejected."""

    examples: int = 0
    rejected: tuple[base.Rejected, ...] = ()
    class_counts: tuple[tuple[str, int, int], ...] = ()


_Total = tuple[int, list[base.Rejected], ClassCounts]


class _MergeReports(beam.CombineFn):
    """Sums `TaskReport`s into one: the counts add up, the rejected records are gathered
    (they are few: past `max_rejected_fraction` of the inputs, default 0.1%, the run fails)."""

    def create_accumulator(self) -> _Total:
        return 0, [], collections.Counter()

    def add_input(self, total: _Total, report: TaskReport) -> _Total:
        examples, rejected, classes = total
        rejected.extend(report.rejected)
        classes.update({(split, label): count for split, label, count in report.class_counts})
        return examples + report.examples, rejected, classes

    def merge_accumulators(self, totals: Iterable[_Total]) -> _Total:
        merged_examples, merged_rejected, merged_classes = self.create_accumulator()
        for examples, rejected, classes in totals:
            merged_examples += examples
            merged_rejected.extend(rejected)
            merged_classes.update(classes)
        return merged_examples, merged_rejected, merged_classes

    def extract_output(self, total: _Total) -> TaskReport:
        examples, rejected, classes = total
        counts = tuple((split, label, n) for (split, label), n in sorted(classes.items()))
        return TaskReport(examples, tuple(rejected), counts)


def write_rejects(reports: beam.pvalue.PCollection, rejected_dir: str) -> None:
    """Writes the rejected records of each input split as JSON lines, and the split's
    counts, from the (split, `TaskReport`) of each read task (one or more per split)."""
    _ = (
        reports
        # Combiner lifting sums the reports within each bundle: a few elements are shuffled.
        | "SumReports" >> beam.CombinePerKey(_MergeReports())
        | "WriteReports" >> beam.Map(_write_report, rejected_dir)
    )


def _write_report(split_report: tuple[str, TaskReport], rejected_dir: str) -> None:
    """Writes the records (sorted, so a rerun writes the same file) and the summary line of
    a split's report; a rerun task replaces both."""
    split, report = split_report
    records = sorted(report.rejected, key=lambda r: (r.source_id, r.reason, r.detail))
    lines = (json.dumps({"split": split, **dataclasses.asdict(r)}) + "\n" for r in records)
    files.write_text(base.join(rejected_dir, f"{split}{_RECORDS_SUFFIX}"), "".join(lines))
    reasons = collections.Counter()
    for record in records:
        reasons[record.reason] += record.count
    summary = {_EXAMPLES: report.examples, **reasons}
    files.write_text(
        base.join(rejected_dir, split + _SUMMARY_SUFFIX), json.dumps(summary, sort_keys=True) + "\n"
    )
    classes: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for output_split, label, count in report.class_counts:
        classes[output_split][str(label)] = count
    files.write_text(
        base.join(rejected_dir, split + class_counts.FILE_SUFFIX),
        json.dumps(classes, sort_keys=True) + "\n",
    )


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
        for path in files.glob(base.join(rejected_dir, "*" + _SUMMARY_SUFFIX)):
            counts.update(json.loads(files.read_text(path)))
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
        files.makedirs(dest_dir)
        for name in files.listdir(self.rejected_dir):
            files.copy(base.join(self.rejected_dir, name), base.join(dest_dir, name))
        return dataclasses.replace(self, rejected_dir=dest_dir)

    def check(self, max_fraction: float) -> None:
        """Raises TooManyRejectsError when the rejected fraction exceeds `max_fraction`."""
        if self.fraction > max_fraction:
            raise TooManyRejectsError(
                f"{self.summary()} — more than the allowed {max_fraction:.3%} "
                "(data.max_rejected_fraction)"
            )
