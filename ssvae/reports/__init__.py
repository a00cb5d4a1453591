"""Figures and reports of trained runs: generation (samples, traversals,
figures of a trained state), plots (sweep figures), curves (learning curves
read from workdirs). The metrics themselves are ssvae.metrics. Imports the
core, ssvae.metrics and ssvae.train, never ssvae.protocols.
"""
