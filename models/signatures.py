"""Names of the exported serving signatures: the contract between the Trainer's export,
TFMA, TF Serving clients and `pipeline_runner.py predict` (importable without TensorFlow)."""

EXAMPLES_SIGNATURE = "serving_default"  # input "examples": serialized tf.Example [B]
RAW_BYTES_SIGNATURE = "serving_raw_image"  # input "image_bytes": encoded JPEG/PNG [B]
OUTPUT_KEYS = ("probabilities", "class_ids", "classes", "scores")
