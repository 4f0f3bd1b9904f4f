"""Names of the exported serving signatures: the contract between the Trainer's export,
TFMA, TF Serving clients and `pipeline_runner.py predict` (importable without TensorFlow)."""

EXAMPLES_SIGNATURE = "serving_default"  # input "examples": serialized tf.Example [B]
RAW_BYTES_SIGNATURE = "serving_raw_image"  # input "image_bytes": encoded JPEG/PNG [B]

# What both signatures return.
PROBABILITIES_KEY = "probabilities"  # float32 [B, K]
CLASS_IDS_KEY = "class_ids"  # int32 [B]: argmax
CLASSES_KEY = "classes"  # string [B]: the class names of class_ids
SCORES_KEY = "scores"  # float32 [B]: the top probability
OUTPUT_KEYS = (PROBABILITIES_KEY, CLASS_IDS_KEY, CLASSES_KEY, SCORES_KEY)
