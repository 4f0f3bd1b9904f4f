"""The names the Evaluator's output is written and read by: the two models TFMA compares
and the metrics the gate and the report read. Plain strings: cheap to import anywhere.
Feature keys and model outputs live in `features`."""

CANDIDATE = "candidate"
BASELINE = "baseline"
ACCURACY = "sparse_categorical_accuracy"
TOP_K_ACCURACY = "top_k_accuracy"
LOSS = "loss"
