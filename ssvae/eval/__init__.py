"""Evaluation: metrics and figures of trained runs (built on the core).

evaluation (final metrics, train_and_evaluate), anomaly (scores, ROC AUC),
disentanglement and disentanglement_eval (betaVAE score), generation
(samples, traversals, figures of a trained state), plots (sweep figures),
curves (learning curves read from workdirs). Imports the core (ssvae.*),
never ssvae.protocols.
"""
