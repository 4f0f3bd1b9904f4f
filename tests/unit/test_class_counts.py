"""Examples per class and split: counted by the read tasks, checked, and said."""

from pathlib import Path

import pytest

import pipeline_runner
from components.image_example_gen import class_counts, rejects
from components.image_example_gen.component import create_image_example_gen
from components.report.render import data_summary
from tests.fixtures.images import write_class_tree
from tests.fixtures.reading import run_executor

NAMES = ["cat", "dog", "emu"]


def test_the_executor_counts_each_class_in_each_split(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_class_tree(root / "train", ["cat", "dog"], per_class=5)
    write_class_tree(root / "train", ["emu"], per_class=1)
    write_class_tree(root / "val", ["cat", "dog"], per_class=2)
    component = create_image_example_gen(str(root), "folder", min_images_per_class=5)

    run_executor(component.exec_properties, tmp_path / "examples")

    counts = class_counts.read(str(tmp_path / "examples" / rejects.REJECTED_DIR))
    assert counts == {"eval": {0: 2, 1: 2}, "train": {0: 5, 1: 5, 2: 1}}  # cat, dog, emu
    assert data_summary(str(tmp_path / "examples"), 5) == (
        [
            "3 classes",
            "eval 4 examples: cat 2, dog 2, emu 0",
            "train 11 examples: cat 5, dog 5, emu 1",
        ],
        [
            "1 class(es) with fewer than 5 training examples: emu 1",
            "split eval has no example of: emu",
        ],
    )


def test_fewer_than_two_classes_with_enough_training_examples_stop_the_run(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data"
    write_class_tree(root / "train", ["cat"], per_class=5)
    write_class_tree(root / "train", ["dog", "emu"], per_class=2)
    write_class_tree(root / "val", NAMES, per_class=1)
    component = create_image_example_gen(str(root), "folder", min_images_per_class=3)

    with pytest.raises(class_counts.TooFewClassesError) as error:
        run_executor(component.exec_properties, tmp_path / "examples")

    assert str(error.value) == (
        "the train split has 1 class(es) with at least 3 examples (found: cat 5, dog 2, emu 2); "
        "a classifier needs two or more (data.min_images_per_class sets the minimum)"
    )


def test_the_cli_stops_after_ingestion_before_any_training(tmp_path: Path, capsys) -> None:
    root = tmp_path / "data"
    write_class_tree(root, ["cat"], per_class=12)
    write_class_tree(root, ["dog"], per_class=1)
    output_root = tmp_path / "outputs"

    status = pipeline_runner.main(
        [
            "--preset=folder",
            f"--data-dir={root}",
            f"--output-root={output_root}",
            "--set=data.min_images_per_class=5",
        ]
    )

    err = capsys.readouterr().err
    assert status == 2
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        "error: the train split has 1 class(es) with at least 5 examples (found: cat 12, dog 1); "
        "a classifier needs two or more (data.min_images_per_class sets the minimum)"
    ]
    assert not (output_root / "pipelines" / "folder" / "BaselineTrainer").exists()


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"train": {0: 9, 1: 9, 2: 9}, "eval": {0: 1, 1: 1, 2: 1}}, []),
        (
            {"train": {0: 9, 1: 9}, "eval": {2: 1}},
            [
                "1 class(es) with fewer than 5 training examples: emu 0",
                "split train has no example of: emu",
                "split eval has no example of: cat, dog",
            ],
        ),
    ],
)
def test_warnings_name_thin_and_missing_classes(counts: dict, expected: list[str]) -> None:
    assert class_counts.warnings(counts, NAMES, 5) == expected


def test_many_classes_are_described_by_the_fewest_and_the_most() -> None:
    names = [f"c{i:02d}" for i in range(30)]
    counts = {"train": {label: 10 + label for label in range(len(names))}}

    assert class_counts.describe(counts, names) == [
        "30 classes",
        f"train {sum(range(10, 40))} examples: fewest c00 10, most c29 39",
    ]


def test_an_empty_training_split_has_no_class() -> None:
    with pytest.raises(class_counts.TooFewClassesError, match="has 0 class"):
        class_counts.check({"eval": {0: 3, 1: 3}}, NAMES, 1)


def test_classes_of_one_name_are_counted_apart() -> None:
    """ImageNet's first synonyms repeat ("crane" is a bird and a machine): counts go by label."""
    names = ["crane", "crane", "emu"]
    counts = {"train": {0: 7, 1: 2, 2: 9}}

    assert class_counts.describe(counts, names)[1] == "train 18 examples: crane 7, crane 2, emu 9"
    assert class_counts.warnings(counts, names, 5) == [
        "1 class(es) with fewer than 5 training examples: crane 2"
    ]


def test_an_empty_eval_split_stops_the_run_in_one_line() -> None:
    with pytest.raises(
        class_counts.EmptySplitError, match="the eval split got no example of the 6"
    ):
        class_counts.check({"train": {0: 3, 1: 3}, "test": {0: 1}}, NAMES, 1)
