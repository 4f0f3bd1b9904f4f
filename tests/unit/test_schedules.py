"""Learning-rate schedules at chosen steps."""

import dataclasses

import pytest

from models.training.recipe import OptimizerConfig, ScheduleConfig, TrainConfig
from models.training.schedules import WarmupCosine, WarmupExponential, build_schedule

PAPER = TrainConfig(
    epochs=300,
    batch_size=2048,
    optimizer=OptimizerConfig(learning_rate=0.16, lr_reference_batch=2048),
    schedule=ScheduleConfig(name="paper", warmup_epochs=5, warmup_start_lr=0.01, lr_decay=0.9875),
)


def test_paper_schedule_values():
    steps = 10
    schedule = build_schedule(PAPER, steps_per_epoch=steps)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(25)) == pytest.approx(0.01 + 0.15 * 25 / 50)
    assert float(schedule(50)) == pytest.approx(0.16)
    assert float(schedule(59)) == pytest.approx(0.16)
    assert float(schedule(60)) == pytest.approx(0.16 * 0.9875)
    assert float(schedule(50 + 100 * steps)) == pytest.approx(0.16 * 0.9875**100, rel=1e-5)


def test_paper_schedule_scales_with_batch():
    schedule = build_schedule(dataclasses.replace(PAPER, batch_size=256), steps_per_epoch=10)
    assert float(schedule(0)) == pytest.approx(0.01 / 8)
    assert float(schedule(50)) == pytest.approx(0.02)


def test_cosine_values():
    schedule = WarmupCosine(peak=1.0, warmup_steps=10, total_steps=110, start=0.0)
    assert float(schedule(5)) == pytest.approx(0.5)
    assert float(schedule(10)) == pytest.approx(1.0)
    assert float(schedule(60)) == pytest.approx(0.5)
    assert float(schedule(110)) == pytest.approx(0.0, abs=1e-7)


def test_schedules_serialise():
    schedule = WarmupExponential(0.1, 5, 10, 0.9, 0.01)
    assert WarmupExponential(**schedule.get_config()).get_config() == schedule.get_config()
