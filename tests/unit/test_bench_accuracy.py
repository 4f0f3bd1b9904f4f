"""bench.accuracy resumes: seeds already measured with the same settings are kept."""

import json

from bench.accuracy import finished_seeds, parse_args


def _write(path, argv, seeds):
    args = vars(parse_args(argv))
    runs = [{"seed": s, "baseline_accuracy": 0.5, "candidate_accuracy": 0.4} for s in seeds]
    path.write_text(json.dumps({"args": args, "peak": {"conv3x3_gflops": 400}, "runs": runs}))


def test_keeps_seeds_of_the_same_run(tmp_path):
    path = tmp_path / "accuracy.json"
    _write(path, ["--preset=cifar10_full", "--seeds", "1"], [1])
    done = finished_seeds(path, parse_args(["--preset=cifar10_full", "--seeds", "1", "2"]))
    assert list(done) == [1]
    assert done[1]["peak"] == {"conv3x3_gflops": 400}


def test_replaces_seeds_of_a_different_run(tmp_path):
    path = tmp_path / "accuracy.json"
    _write(path, ["--preset=cifar10_full", "--epochs=5"], [1, 2])
    assert finished_seeds(path, parse_args(["--preset=cifar10_full", "--epochs=6"])) == {}
    assert finished_seeds(tmp_path / "missing.json", parse_args([])) == {}


def test_seeds_of_other_config_overrides_are_not_kept(tmp_path):
    path = tmp_path / "accuracy.json"
    _write(path, ["--set", "train.distillation.token=true"], [1])
    assert finished_seeds(path, parse_args(["--seeds", "1"])) == {}
    assert list(finished_seeds(path, parse_args(["--set", "train.distillation.token=true"])))


def test_every_distillation_method_is_a_valid_pipeline_config():
    from bench.distillation import METHODS
    from pipeline.config import apply_overrides, get_preset

    for method, overrides in METHODS.items():
        config = apply_overrides(get_preset("default"), dict(o.split("=") for o in overrides))
        distillation = config.candidate.train_config(config.train).distillation
        assert bool(distillation.teacher) == (method != "none")
        assert distillation.token == method.startswith("token")
