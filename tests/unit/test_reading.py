"""How ImageExampleGen hands its inputs to Beam: every file once, in tasks of bounded size."""

from hypothesis import given, settings
from hypothesis import strategies as st

from components.image_example_gen import reading
from components.image_example_gen.sources.base import InputFile


def _inputs(n: int) -> list[InputFile]:
    return [InputFile(f"/data/c/{i}.jpg", f"c/{i}.jpg", 0, "c") for i in range(n)]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40_000))
def test_tasks_hold_every_input_once_in_order_and_are_bounded(n):
    inputs = _inputs(n)

    tasks = reading.group_into_tasks(inputs)

    assert [item for task in tasks for item in task] == inputs
    assert all(1 <= len(task) <= 64 for task in tasks)
    assert len(tasks) >= min(n, 256), "enough tasks to spread over the workers"


def test_few_inputs_travel_one_per_task():
    assert [len(task) for task in reading.group_into_tasks(_inputs(6))] == [1] * 6


def test_a_task_survives_its_trip_through_the_task_file(tmp_path):
    inputs = _inputs(3) + [InputFile("/data/x.bin", "x.bin"), InputFile("/d/é 1.jpg", "é 1.jpg")]
    tasks = reading.group_into_tasks(inputs)

    reading.write_tasks(tasks, str(tmp_path / "tasks.jsonl"))

    lines = (tmp_path / "tasks.jsonl").read_text(encoding="utf-8").splitlines()
    assert [reading.parse_task(line) for line in lines] == tasks
