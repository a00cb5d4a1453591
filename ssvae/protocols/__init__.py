"""Protocols: drivers of many runs, built on the core and ssvae.reports.

sweep (a table's grid of runs and its results.*), feedback_experiment (the
simulated feedback protocol), feedback (its extra classes and adjusted
score), detect, detect_data and detect_feedback (the anomaly detector on a
trained run, with user feedback), unlabeled_report (the diagnosis sweep's
figure and table).
"""
