"""The `slices` command's table and orderings."""

from components.report.slices import SliceRow
from pipeline.commands.slices import SORT_KEYS, format_table

ROWS = [
    SliceRow("Overall", 40, 0.9, 1.0),
    SliceRow("label_name:cat", 4, 1.0, 0.5),
    SliceRow("brightness_bucket:0", 10, 0.7, 0.75),
]


def test_table_has_a_header_with_model_names_and_one_line_per_slice():
    table = format_table(ROWS, "loss", "vt_resnet_tiny", "resnet_tiny").splitlines()
    assert table[0] == "loss (gap = candidate - baseline)"
    assert "vt_resnet_tiny" in table[1] and "resnet_tiny" in table[1]
    assert len(table) == 2 + len(ROWS)
    assert table[3].split() == ["label_name:cat", "4", "1.0000", "0.5000", "+0.5000"]


def test_sort_orders():
    def order(key):
        return [r.slice_name for r in sorted(ROWS, key=SORT_KEYS[key])]

    assert order("slice") == ["Overall", "brightness_bucket:0", "label_name:cat"]
    assert order("gap") == ["label_name:cat", "Overall", "brightness_bucket:0"]
    assert order("count")[0] == "Overall"
