"""Model-assisted annotation, Qt-free and torch-free at import: pre-labels
(:mod:`~core.assist.prelabel`), the active-learning order (:mod:`~core.assist.active`),
background retraining (:mod:`~core.assist.retrain`) and the image-processing
baselines of Section 4.2 (:mod:`~core.gt.baselines`)."""
