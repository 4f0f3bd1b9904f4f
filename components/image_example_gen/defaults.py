"""ImageExampleGen's defaults, in a module light enough (no Beam, no TensorFlow) for the
pipeline's config to import: `pipeline/config.py`'s DataConfig starts from them."""

# The run fails when a larger fraction of the inputs is rejected.
DEFAULT_MAX_REJECTED_FRACTION = 0.001
# About this many bytes of serialized examples per output TFRecord shard.
DEFAULT_SHARD_BYTES = 128 * 2**20
