"""What `run_fn` learns about the data set from the Trainer's `dataset` input (see
`components/trainer/component.py`); a light module, imported by the Trainer module."""

from __future__ import annotations

from typing import Any

from components.image_example_gen import class_names

# fn_args.custom_config key: URI of ImageExampleGen's Examples artifact, set at run time.
DATASET_URI_KEY = "dataset_uri"


def dataset_class_names(fn_args: Any) -> list[str]:
    """The class names, indexed by label, of the data set the Trainer trains on, read from
    ImageExampleGen's Examples artifact (`class_names.json`).

    Args:
      fn_args: the `tfx.components.FnArgs` of `run_fn`.

    Raises:
      KeyError: the Trainer was not built with `components.trainer.component.create_trainer`.
    """
    if DATASET_URI_KEY not in (fn_args.custom_config or {}):
        raise KeyError(
            f"custom_config has no {DATASET_URI_KEY!r}: build the Trainer with "
            "components.trainer.component.create_trainer(dataset=<ImageExampleGen examples>)"
        )
    return class_names.read(fn_args.custom_config[DATASET_URI_KEY])
