"""Metrics of trained models, below the training loop: anomaly scores and
ROC AUC, the betaVAE disentanglement score, batched evaluation, and
experiment_metrics, which applies them to an Experiment's state (what the
loop selects on, and the final metrics of results.json)."""
