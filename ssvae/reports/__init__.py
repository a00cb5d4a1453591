"""Figures and reports of trained runs: generation (samples, traversals,
figures of a trained state), curves (learning curves read from workdirs),
unlabeled_report (the unlabeled-data diagnosis sweep's figure and table).
The metrics themselves are ssvae.metrics, a sweep's figures ssvae.sweep.plots.
Imports the layers below it and ssvae.sweep, never ssvae.detect.
"""
