"""Model-assisted annotation in the window: pre-labels, background retraining and its
dock, the model history, review mode and each image's status history (each part
mounts itself with ``install(window)``)."""
