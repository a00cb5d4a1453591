"""Tests of benchmarks/profile_step.py's trace reading (synthetic events)."""

from absl.testing import absltest

from benchmarks import profile_step


def _event(name, ts, dur):
  return {"name": name, "ts": ts, "dur": dur, "ph": "X"}


class OpIntervalsTest(absltest.TestCase):

  def test_async_op_lasts_until_its_completion_event(self):
    events = [_event("conv.1", 0, 1), _event("add_fusion", 2, 3),
              _event("end: conv.1", 9, 1)]
    self.assertEqual(profile_step.op_intervals(events),
                     [(0, 10, "conv.1"), (2, 5, "add_fusion")])

  def test_repeated_op_without_completion_keeps_own_durations(self):
    events = [_event("copy.3", 0, 2), _event("copy.3", 5, 1)]
    self.assertEqual(profile_step.op_intervals(events),
                     [(0, 2, "copy.3"), (5, 6, "copy.3")])


class BreakdownTest(absltest.TestCase):

  def test_overlap_is_split_and_gaps_are_idle(self):
    per_op, idle = profile_step.breakdown(
        [(0, 10, "conv.1"), (2, 6, "add_fusion"), (12, 14, "dot.2")])
    self.assertEqual(per_op, {"conv.1": 8.0, "add_fusion": 2.0, "dot.2": 2.0})
    self.assertEqual(idle, 2.0)
    self.assertEqual(sum(per_op.values()) + idle, 14)

  def test_kinds(self):
    self.assertEqual(profile_step.kind_of("convolution-window-dilated"),
                     "convolution")
    self.assertEqual(profile_step.kind_of("ynn_fusion.3"),
                     "library dot/reduce (YNNPACK)")
    self.assertEqual(profile_step.kind_of("transpose_copy_fusion.1"),
                     "copy/transpose")
    self.assertEqual(profile_step.kind_of("broadcast_add_fusion"),
                     "fused elementwise")
    self.assertEqual(profile_step.kind_of("compare_convert_fusion"),
                     "fused elementwise")
    self.assertEqual(profile_step.kind_of("dot.2"), "other dot")


if __name__ == "__main__":
  absltest.main()
