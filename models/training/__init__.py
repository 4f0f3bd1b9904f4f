"""How a model is trained, in plain Keras and tf.data (no TFX): the typed recipe, the
optimizer and its schedule, augmentation, distillation, the fit loop with its checkpoints and
logs, and the export for serving. The Trainer component (`components/trainer`) calls it."""
