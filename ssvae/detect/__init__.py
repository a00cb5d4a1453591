"""The anomaly detector on a trained run, and the feedback that improves it.

  detector.py            load a run as a detector, fit its threshold, score
                         and flag points (experiments/detect.py)
  inputs.py              the detector's input files and feedback CSVs
  feedback.py            the false-positive / false-negative classes and the
                         feedback-adjusted score
  finetune.py            a run grown by those classes, fine-tuned on feedback
  feedback_experiment.py the simulated-user feedback protocol
                         (experiments/feedback.py)
"""
