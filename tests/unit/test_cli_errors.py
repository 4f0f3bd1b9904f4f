"""Every user mistake stops `pipeline_runner.py` before the first component runs: exit status
2, one line on stderr, no stack trace."""

from pathlib import Path

import pytest

import pipeline_runner
from tests.fixtures.cifar import write_cifar10_python
from tests.fixtures.images import write_class_tree


def _one_class(tmp_path: Path) -> list[str]:
    write_class_tree(tmp_path / "data", ["cat"], per_class=3)
    return ["--dataset=folder", "--set=data.schema=folder", f"--data-dir={tmp_path / 'data'}"]


def _symlink_loop(tmp_path: Path) -> list[str]:
    data_dir = write_class_tree(tmp_path / "data", ["cat", "dog"], per_class=3)
    (data_dir / "a").symlink_to(data_dir / "b")
    (data_dir / "b").symlink_to(data_dir / "a")
    return ["--dataset=folder", "--set=data.schema=folder", f"--data-dir={data_dir}"]


def _cifar(tmp_path: Path) -> list[str]:
    return [f"--data-dir={write_cifar10_python(tmp_path / 'data', 10)}"]


CASES = {
    "a folder of one class": (_one_class, [], "holds 1 class (cat): a classifier needs two"),
    "a symlink loop in the data dir": (_symlink_loop, [], "Too many levels of symbolic links"),
    "batch size 0": (_cifar, ["--batch-size=0"], "train.batch_size must be at least 1; got 0"),
    "image size 0": (_cifar, ["--image-size=0"], "data.image_size must be in [8, 4096]; got 0"),
    "an unknown model": (_cifar, ["--candidate=vt_small"], "Unknown model 'vt_small'"),
    "negative epochs": (_cifar, ["--epochs=-1"], "train.epochs must be at least 0; got -1"),
    "a model option its builder lacks": (
        _cifar,
        ['--set=candidate.overrides={"num_wings": 2}'],
        "candidate vt_resnet_tiny_prenorm cannot be built for 32x32 images and 10 classes",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_mistake_is_one_line_and_exit_2_before_any_component(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    make_data, flags, message = CASES[case]
    output_root = tmp_path / "outputs"

    status = pipeline_runner.main(
        [*make_data(tmp_path), *flags, f"--output-root={output_root}", "--preset=smoke"]
    )

    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert status == 2
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err
    assert not (output_root / "pipelines").exists(), "no component may have run"
