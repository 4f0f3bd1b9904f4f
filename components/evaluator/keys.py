"""The names the Evaluator's output is written and read by: the two models TFMA compares,
the metrics the gate and the report read, and the features and outputs TFMA takes from the
examples and the models. Plain strings: cheap to import anywhere."""

CANDIDATE = "candidate"
BASELINE = "baseline"
ACCURACY = "sparse_categorical_accuracy"
TOP_K_ACCURACY = "top_k_accuracy"
LOSS = "loss"
LABEL_KEY = "label"
IMAGE_KEY = "image"
PREDICTION_KEY = "probabilities"
