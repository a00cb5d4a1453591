"""Tests for ssvae/sweep/ (grid, runner, ledger): expansion, running, resuming,
aggregation."""

import csv
import json
import os
import re
import shutil
import socket

import jax
import numpy as np
import pytest

from configs import common
from configs import default
from ssvae import config_diff
from ssvae import errors
from ssvae import train
from ssvae import workdir as workdir_lib
from ssvae.sweep import grid
from ssvae.sweep import ledger as ledger_lib
from ssvae.sweep import runner

TINY_AXES = (("model.variant", ("supervised",)),
             ("data.num_labels", (20, 40)))


def tiny_base():
  base = common.tiny(default.base_config())
  base.model.hidden_sizes = (8,)
  return base


def tiny_sweep(**fields):
  kwargs = dict(title="Tiny", base=tiny_base(), axes=TINY_AXES,
                metrics=("accuracy",), num_seeds=2)
  kwargs.update(fields)
  config = common.new_sweep_config(**kwargs)
  config.lock()
  return config


def run(config, workdir):
  return runner.run_sweep(config, str(workdir), command="python -m test",
                         devices=jax.devices()[:1])


def read_csv(path):
  with open(path) as f:
    return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
  """One uninterrupted 2-cell x 2-seed sweep, shared by several tests."""
  workdir = tmp_path_factory.mktemp("sweep")
  run(tiny_sweep(), workdir)
  return workdir


# ---------------------------------------------------------- grid expansion


def test_expand_cells_names_values_order_and_seeds():
  config = common.new_sweep_config(
      title="t", base=tiny_base(), metrics=("accuracy",), num_seeds=3,
      axes=(("model.variant", ("semi_supervised", "supervised")),
            ("data.num_labels", (100, 1000))))
  cells = grid.expand_cells(config)
  assert [c.name for c in cells] == [
      "variant=semi_supervised,num_labels=100",
      "variant=semi_supervised,num_labels=1000",
      "variant=supervised,num_labels=100",
      "variant=supervised,num_labels=1000"]
  assert cells[2].axes == {"variant": "supervised", "num_labels": 100}
  assert cells[2].config.model.variant == "supervised"
  assert cells[2].config.data.num_labels == 100
  assert all(c.config.train.num_seeds == 3 for c in cells)
  assert config.base.train.num_seeds == 1  # the base is not modified


def test_extra_grids_and_cell_overrides():
  config = common.new_sweep_config(
      title="t", base=tiny_base(), metrics=("auc",),
      axes=(("data.held_out_class", (7,)),
            ("model.variant", ("semi_supervised",)),
            ("data.label_fraction", (0.1, 1.0))),
      extra_grids=((("data.held_out_class", (7,)),
                    ("model.variant", ("unsupervised",))),),
      cell_overrides=(({"variant": "unsupervised"},
                       {"train.num_steps": 4, "model.hidden_sizes": [4]}),))
  cells = grid.expand_cells(config)
  assert [c.name for c in cells] == [
      "held_out_class=7,variant=semi_supervised,label_fraction=0.1",
      "held_out_class=7,variant=semi_supervised,label_fraction=1.0",
      "held_out_class=7,variant=unsupervised"]
  # An axis a grid lacks takes the base value, so every row has every axis.
  assert cells[2].axes["label_fraction"] == -1.0
  assert [c.config.train.num_steps for c in cells] == [10, 10, 4]
  assert cells[2].config.model.hidden_sizes == (4,)
  assert cells[0].config.model.hidden_sizes == (8,)


def test_settings_a_cell_override_sets_are_reported_per_cell_not_fixed():
  config = common.new_sweep_config(
      title="t", base=tiny_base(), metrics=("accuracy",), num_seeds=1,
      axes=(("model.variant", ("semi_supervised", "supervised")),
            ("data.num_labels", (20, 40))),
      cell_overrides=(({"variant": "supervised"},
                       {"optimizer.learning_rate": 3e-4,
                        "train.patience": 2}),))
  cells = grid.expand_cells(config)
  fixed, per_cell = ledger_lib.settings_by_cell(config, cells)
  assert "optimizer.learning_rate" not in fixed  # the base's 1e-3 is not
  assert fixed["loss.alpha"] == config.base.loss.alpha  # every cell's
  assert per_cell == {"optimizer.learning_rate": {
      "0.001": "variant=semi_supervised", "0.0003": "variant=supervised"}}
  protocol, per_cell_protocol = ledger_lib.settings_by_cell(
      config, cells, ledger_lib.PROTOCOL_SETTINGS)
  assert "train.patience" not in protocol and set(per_cell_protocol) == {
      "train.patience"}
  line = ledger_lib.protocol_line(protocol, per_cell_protocol)
  assert "early stop after per cell evaluations" in line
  assert ledger_lib.per_cell_line(per_cell) == (
      "optimizer.learning_rate=0.001 (variant=semi_supervised), 0.0003 "
      "(variant=supervised)")


@pytest.mark.parametrize("fields, message", [
    (dict(axes=(("model.varient", ("supervised",)),)), "model.varient"),
    (dict(axes=(("data.num_labels", ("many",)),)), "data.num_labels='many'"),
    (dict(axes=(("data.num_labels", ()),)), "non-empty"),
    (dict(axes=(("model.variant", ("supervised",)),
                ("data.num_labels", (0,)))),
     "cell 'variant=supervised,num_labels=0'"),
    (dict(axes=(("data.name", ("digits",)), ("model.name", ("x",)))),
     "share the name"),
    (dict(extra_grids=(TINY_AXES,)), "appears twice"),
    (dict(cell_overrides=(({"varient": "x"}, {}),)), "varient"),
    (dict(plots_to_write=("auc_per_class",)), "held_out_class"),
    (dict(plots_to_write=("pie_chart",)), "pie_chart"),
    (dict(num_seeds=0), "num_seeds"),
    (dict(on_diverged="skip"), "on_diverged"),
])
def test_bad_sweep_configs_name_the_problem(fields, message):
  with pytest.raises(ValueError) as info:
    grid.check_sweep(tiny_sweep(**fields))
  assert message in str(info.value)


# ------------------------------------------------------- diverged cells

DIVERGING_AXES = (("model.variant", ("supervised",)),
                  ("optimizer.learning_rate", (1e-3, 1e30)))


def test_a_diverged_cell_stops_the_sweep_by_default(tmp_path):
  config = tiny_sweep(axes=DIVERGING_AXES)
  with pytest.raises(errors.TrainingDiverged, match="Non-finite loss"):
    run(config, tmp_path)


def test_recorded_diverged_cell_is_finished_and_the_sweep_goes_on(
    tmp_path, monkeypatch):
  config = tiny_sweep(axes=DIVERGING_AXES, on_diverged="record")
  summary = run(config, tmp_path)
  ok, bad = summary
  assert not ok.diverged and ok.stats["accuracy"].n == 2
  assert bad.diverged and not bad.pending and bad.stats == {}
  record = json.loads((tmp_path / "runs" / bad.name /
                       ledger_lib.DIVERGED_FILE).read_text())
  assert record["seeds"] == [0, 1] and record["step"] >= 1
  assert "Non-finite loss at step" in record["diverged"]
  rows = read_csv(tmp_path / "results.csv")
  assert [r["stop_reason"] for r in rows if r["cell"] == bad.name] == [
      "diverged", "diverged"]
  assert all(r["accuracy"] == "" for r in rows if r["cell"] == bad.name)
  markdown = (tmp_path / "results.md").read_text()
  assert "1 diverged" in markdown
  assert re.search(r"\| 1e\+30 \| diverged \|", markdown)
  # A rerun counts the diverged cell as finished: nothing trains.
  monkeypatch.setattr(train, "train_and_evaluate", _fail_if_trained)
  assert run(config, tmp_path)[1].diverged


# ------------------------------------------------------------ aggregation


def fake_results(accuracies, auc=None):
  metrics = {"accuracy": list(accuracies)}
  if auc is not None:
    metrics["auc"] = list(auc)
  return {"step": 10, "seeds": list(range(len(accuracies))),
          "sampling_mode": "labeled", "num_labeled": 20, "metrics": metrics}


def test_summary_stats_by_hand_and_missing_metrics():
  config = tiny_sweep()
  cells = grid.expand_cells(config)
  results = {cells[0].name: fake_results([0.5, 0.7], auc=[0.9, 0.8]),
             cells[1].name: fake_results([0.25])}
  metrics = ledger_lib.metric_names(results, ("accuracy",))
  assert metrics == ["accuracy", "auc"]
  rows = ledger_lib.result_rows(cells, results, metrics)
  assert len(rows) == 3 and rows[2]["auc"] is None
  summary = ledger_lib.summarize(cells, rows, metrics)
  stats = summary[0].stats["accuracy"]
  assert stats.n == 2 and stats.mean == pytest.approx(0.6)
  assert stats.std == pytest.approx(np.sqrt(0.02))  # ddof=1: 0.1414
  assert ledger_lib.format_stats(stats) == "0.6000 ± 0.1414 (n=2)"
  assert ledger_lib.format_stats(summary[1].stats["accuracy"]) == "0.2500 (n=1)"
  assert "auc" not in summary[1].stats
  assert ledger_lib.format_stats(summary[1].stats.get("auc")) == "—"


def test_only_process_zero_writes(tmp_path):
  config = tiny_sweep()
  cells = grid.expand_cells(config)
  results = {c.name: fake_results([0.5, 0.7]) for c in cells}
  for index in (1, 2):
    summary = ledger_lib.write_outputs(str(tmp_path), config, cells, results,
                                  command="c", process_index=index)
    assert len(summary) == 2 and not os.listdir(tmp_path)
  ledger_lib.write_outputs(str(tmp_path), config, cells, results, command="c",
                      process_index=0)
  assert {"results.csv", "results.json", "results.md"} <= set(
      os.listdir(tmp_path))


def test_git_commit_outside_a_checkout(tmp_path, monkeypatch):
  monkeypatch.delenv("SSVAE_GIT_COMMIT", raising=False)
  assert ledger_lib.git_commit(str(tmp_path)).startswith("unknown")
  monkeypatch.setenv("SSVAE_GIT_COMMIT", "abc1234")
  assert ledger_lib.git_commit(str(tmp_path)) == (
      "abc1234 (declared by SSVAE_GIT_COMMIT; no .git)")


# ------------------------------------------------------------ running


def test_sweep_writes_one_row_per_run_and_right_statistics(finished_sweep):
  rows = read_csv(finished_sweep / "results.csv")
  assert [(r["cell"], r["seed"]) for r in rows] == [
      ("variant=supervised,num_labels=20", "0"),
      ("variant=supervised,num_labels=20", "1"),
      ("variant=supervised,num_labels=40", "0"),
      ("variant=supervised,num_labels=40", "1")]
  assert rows[0]["num_labels"] == "20" and rows[0]["num_labeled"] == "20"
  assert rows[3]["step"] == "10" and rows[3]["sampling_mode"] == "labeled"
  summary = json.load(open(finished_sweep / "results.json"))
  markdown = (finished_sweep / "results.md").read_text()
  for cell in summary["cells"]:
    values = [float(r["accuracy"]) for r in rows if r["cell"] == cell["name"]]
    stats = cell["stats"]["accuracy"]
    assert stats["n"] == 2
    assert stats["mean"] == pytest.approx(np.mean(values), abs=1e-12)
    assert stats["std"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    line = (f"| supervised | {cell['axes']['num_labels']} | "
            f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f} (n=2) |")
    assert line in markdown
  assert "Command: `python -m test`" in markdown
  assert "ddof=1" in markdown
  (commit, cells), = summary["git_commits"].items()
  assert cells == 2 and f"Trained at commit: `{commit}` (2 cells)" in markdown
  assert "jax devices" in markdown
  for cell_dir in (finished_sweep / "runs").iterdir():
    assert json.load(open(cell_dir / "results.json"))["git_commit"] == commit
  # The unswept settings a reader needs are stated; swept ones are not.
  assert summary["fixed"]["loss.alpha"] == 1.0
  assert summary["fixed"]["model.hidden_sizes"] == [8]
  assert "data.num_labels" not in summary["fixed"]
  assert "model.variant" not in summary["fixed"]
  assert "loss.alpha=1.0" in markdown and "model.hidden_sizes=8," in markdown
  # Per-run results match the cell's own results.json.
  run_results = json.load(open(
      finished_sweep / "runs" / rows[0]["cell"] / "results.json"))
  assert float(rows[1]["accuracy"]) == run_results["metrics"]["accuracy"][1]


def test_rerun_of_finished_sweep_does_no_training(finished_sweep, tmp_path,
                                                  monkeypatch):
  workdir = tmp_path / "copy"
  shutil.copytree(finished_sweep, workdir)
  os.remove(workdir / "results.csv")
  def no_training(*args, **kwargs):
    raise AssertionError("a finished cell was trained again")
  monkeypatch.setattr(train, "train_and_evaluate", no_training)
  run(tiny_sweep(), workdir)
  assert ((workdir / "results.csv").read_text()
          == (finished_sweep / "results.csv").read_text())


def test_stacked_cells_train_as_one_program_with_the_same_table(
    finished_sweep, tmp_path, monkeypatch):
  def one_at_a_time(*args, **kwargs):
    raise AssertionError("stackable cells were trained one at a time")
  monkeypatch.setattr(train, "train_and_evaluate", one_at_a_time)
  runner.run_sweep(tiny_sweep(), str(tmp_path), command="python -m test",
                  devices=jax.devices()[:1], stack_cells=True)
  stacked, alone = (read_csv(d / "results.csv")
                    for d in (tmp_path, finished_sweep))
  assert len(stacked) == len(alone) == 4
  for mine, theirs in zip(stacked, alone):
    for column, value in theirs.items():
      if column in ("wall_s", "cpu_s", "git_commit"):
        continue
      try:  # numbers up to float32 rounding (tests/stacking_test.py)
        assert float(mine[column]) == pytest.approx(float(value), rel=1e-5,
                                                    abs=1e-6), column
      except ValueError:
        assert mine[column] == value, column


def _drop_added_fields(config_path):
  """Rewrites a run's config.json as code older than ADDED_FIELDS wrote it."""
  saved = json.load(open(config_path))
  for field in config_diff.ADDED_FIELDS:
    section, name = field.split(".")
    del saved[section][name]
  json.dump(saved, open(config_path, "w"))


def test_cells_recorded_before_added_fields_still_count_as_finished(
    finished_sweep, tmp_path, monkeypatch):
  workdir = tmp_path / "copy"
  shutil.copytree(finished_sweep, workdir)
  for config_path in (workdir / "runs").glob("*/config.json"):
    _drop_added_fields(config_path)
  def no_training(*args, **kwargs):
    raise AssertionError("a finished cell was trained again")
  monkeypatch.setattr(train, "train_and_evaluate", no_training)
  run(tiny_sweep(), workdir)


def _fail_if_trained(*args, **kwargs):
  raise AssertionError("a cell was trained")


def files(directory):
  """{path: bytes} of every file below directory."""
  return {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_changed_cell_config_is_refused_before_anything_is_written(
    finished_sweep, tmp_path, monkeypatch):
  workdir = tmp_path / "copy"
  shutil.copytree(finished_sweep, workdir)
  before = files(workdir)
  monkeypatch.setattr(train, "train_and_evaluate", _fail_if_trained)
  base = tiny_base()
  base.loss.alpha = 2.0
  with pytest.raises(errors.WorkdirError,
                     match=r"cell 'variant=supervised,num_labels=20'.*"
                           r"loss\.alpha"):
    run(tiny_sweep(base=base), workdir)
  assert files(workdir) == before  # sweep_config.json included


def test_a_cell_that_cannot_fit_its_data_fails_before_any_cell_trains(
    tmp_path, monkeypatch):
  monkeypatch.setattr(train, "train_and_evaluate", _fail_if_trained)
  config = tiny_sweep(axes=(("model.variant", ("supervised",)),
                            ("data.num_labels", (20, 25))))
  with pytest.raises(errors.ConfigError,
                     match=r"cell 'variant=supervised,num_labels=25'.*"
                           r"not divisible by the 10 classes"):
    run(config, tmp_path / "sweep")
  assert not os.path.exists(tmp_path / "sweep")


def test_interrupted_sweep_resumes_to_identical_results(finished_sweep,
                                                        tmp_path,
                                                        monkeypatch):
  real_train_and_evaluate = train.train_and_evaluate
  def killed_in_second_cell(config, workdir, *, provenance, **kwargs):
    if workdir.endswith("num_labels=40"):
      train.train(config, workdir, stop_after_step=5, **kwargs)
      raise KeyboardInterrupt  # as if killed after the step-5 checkpoint
    return real_train_and_evaluate(config, workdir, provenance=provenance,
                                   **kwargs)
  monkeypatch.setattr(train, "train_and_evaluate", killed_in_second_cell)
  workdir = tmp_path / "interrupted"
  # The first cell finished before the kill (copied to save its training).
  first = "variant=supervised,num_labels=20"
  shutil.copytree(finished_sweep / "runs" / first, workdir / "runs" / first)
  with pytest.raises(KeyboardInterrupt):
    run(tiny_sweep(), workdir)
  # The ledger already holds the finished cell and lists the other pending.
  ledger = (workdir / "results.md").read_text()
  assert "1 of 2 cells pending" in ledger
  assert "| supervised | 40 | pending |" in ledger
  assert "num_labels=40" not in (workdir / "results.csv").read_text()
  assert "num_labels=20" in (workdir / "results.csv").read_text()
  second = workdir / "runs" / "variant=supervised,num_labels=40"
  assert os.path.isdir(second / "checkpoints")
  assert not os.path.exists(second / "results.json")
  monkeypatch.setattr(train, "train_and_evaluate", real_train_and_evaluate)
  run(tiny_sweep(), workdir)
  assert ((workdir / "results.csv").read_text()
          == (finished_sweep / "results.csv").read_text())


def test_status_only_writes_the_ledger_without_training(finished_sweep,
                                                        tmp_path,
                                                        monkeypatch):
  workdir = tmp_path / "ledger"
  first = "variant=supervised,num_labels=20"
  shutil.copytree(finished_sweep / "runs" / first, workdir / "runs" / first)
  monkeypatch.setattr(train, "train_and_evaluate", None)  # must not train
  runner.run_sweep(tiny_sweep(), str(workdir), command="c",
                  train_pending=False)
  ledger = (workdir / "results.md").read_text()
  assert "1 of 2 cells pending" in ledger
  assert "| supervised | 40 | pending |" in ledger
  assert "Protocol: a validation split" in ledger
  assert len(read_csv(workdir / "results.csv")) == 2  # one cell x 2 seeds


def test_status_only_loads_no_data_takes_no_lock_and_refuses_a_conflict(
    finished_sweep, tmp_path, monkeypatch):
  workdir = tmp_path / "ledger"
  shutil.copytree(finished_sweep, workdir)
  write_lock(workdir / workdir_lib.LOCK_FILE)  # a training job is running
  monkeypatch.setattr(train, "train_and_evaluate", _fail_if_trained)
  monkeypatch.setattr(runner.data_lib, "load_dataset", _fail_if_trained)
  os.remove(workdir / "results.md")
  runner.run_sweep(tiny_sweep(), str(workdir), command="c",
                  train_pending=False)
  assert "Status: complete" in (workdir / "results.md").read_text()
  # Another num_seeds: the cells' runs cannot continue; nothing is written.
  before = files(workdir)
  with pytest.raises(errors.WorkdirError,
                     match=r"different config \(fields train\.num_seeds\)"):
    runner.run_sweep(tiny_sweep(num_seeds=3), str(workdir), command="c",
                    train_pending=False)
  assert files(workdir) == before


def write_lock(path, pid=None):
  """A lock file of a live process (this one, by default)."""
  path.write_text(f"{pid or os.getpid()} {socket.gethostname()}\n")


def replaying(finished_sweep, trained):
  """A train_and_evaluate that copies the finished sweep's cell."""
  def replay_finished_cell(config, cell_dir, **unused_kwargs):
    name = os.path.basename(cell_dir)
    trained.append(name)
    shutil.copytree(finished_sweep / "runs" / name, cell_dir)
    return json.load(open(os.path.join(cell_dir, "results.json")))
  return replay_finished_cell


def test_shard_jobs_lock_their_own_lock_files(finished_sweep, tmp_path,
                                              monkeypatch):
  """Shard jobs share the workdir; a second copy of one shard is refused."""
  workdir = tmp_path / "shared_workdir"
  workdir.mkdir()
  names = [c.name for c in grid.expand_cells(tiny_sweep())]
  trained = []
  monkeypatch.setattr(train, "train_and_evaluate",
                      replaying(finished_sweep, trained))
  shard0_lock = workdir / runner.lock_name((0, 2))
  write_lock(shard0_lock)  # shard 0/2 is running
  runner.run_sweep(tiny_sweep(), str(workdir), command="c", shard=(1, 2))
  assert trained == names[1::2]
  assert sorted(os.listdir(workdir)) == sorted(
      [shard0_lock.name, "results.csv", "results.json", "results.md",
       "runs", "sweep_config.json", ledger_lib.HPARAMS_DIR])  # shard 1's lock
  # is released
  before = files(workdir)
  with pytest.raises(errors.WorkdirError,
                     match=rf"in use by process {os.getpid()} .*"
                           rf"{runner.lock_name((0, 2))}"):
    runner.run_sweep(tiny_sweep(), str(workdir), command="c", shard=(0, 2))
  assert trained == names[1::2] and files(workdir) == before


def test_shards_split_the_cells_and_share_the_ledger(finished_sweep, tmp_path,
                                                     monkeypatch):
  workdir = tmp_path / "shared_workdir"
  names = [c.name for c in grid.expand_cells(tiny_sweep())]
  trained = []
  monkeypatch.setattr(train, "train_and_evaluate",
                      replaying(finished_sweep, trained))

  runner.run_sweep(tiny_sweep(), str(workdir), command="c", shard=(1, 2))
  assert trained == names[1::2]
  assert f"{len(names) - len(names[1::2])} of {len(names)} cells pending" in (
      workdir / "results.md").read_text()
  runner.run_sweep(tiny_sweep(), str(workdir), command="c", shard=(0, 2))
  assert sorted(trained) == sorted(names)
  assert f"Status: complete ({len(names)} cells)" in (
      workdir / "results.md").read_text()
  with pytest.raises(ValueError, match="shard 2 of 2"):
    runner.run_sweep(tiny_sweep(), str(workdir), command="c", shard=(2, 2))


@pytest.mark.parametrize("text", ["1", "a/b", "2/2", "-1/3"])
def test_bad_shard_flag_is_named(text):
  with pytest.raises(ValueError, match="--shard"):
    runner.parse_shard(text)


def test_only_trains_the_matching_cells_and_shares_the_ledger(
    finished_sweep, tmp_path, monkeypatch):
  workdir = tmp_path / "shared_workdir"
  names = [c.name for c in grid.expand_cells(tiny_sweep())]
  trained = []
  monkeypatch.setattr(train, "train_and_evaluate",
                      replaying(finished_sweep, trained))
  last = names[-1]
  runner.run_sweep(tiny_sweep(), str(workdir), command="c",
                  only=re.escape(last) + "$")
  assert trained == [last]
  assert f"{len(names) - 1} of {len(names)} cells pending" in (
      workdir / "results.md").read_text()
  assert os.listdir(workdir).count(workdir_lib.LOCK_FILE) == 0
  runner.run_sweep(tiny_sweep(), str(workdir), command="c")
  assert sorted(trained) == sorted(names)  # the rest, the last one skipped


@pytest.mark.parametrize("only, message", [
    ("no_such_cell", "matches none of the cells"),
    ("(", "is not a regular expression")])
def test_bad_only_pattern_is_named_before_anything_is_written(
    tmp_path, only, message):
  workdir = tmp_path / "sweep"
  with pytest.raises(errors.UserInputError, match=re.escape(only) + ".*"
                     + message):
    runner.run_sweep(tiny_sweep(), str(workdir), command="c", only=only)
  assert not workdir.exists()


def test_lock_names_differ_per_job():
  names = {runner.lock_name(), runner.lock_name((0, 2)),
           runner.lock_name((1, 2)), runner.lock_name(only="a"),
           runner.lock_name(only="b"),
           runner.lock_name((0, 2), only="a")}
  assert len(names) == 6


def test_a_dirty_checkout_trains_no_cell_unless_allowed(tmp_path,
                                                        monkeypatch):
  monkeypatch.setattr(ledger_lib, "git_commit", lambda: "abc1234-dirty")
  with pytest.raises(errors.UserInputError, match="uncommitted changes"):
    runner.run_sweep(tiny_sweep(), str(tmp_path), command="c",
                    devices=jax.devices()[:1], allow_dirty=False)
  assert not os.listdir(tmp_path)  # refused before anything is written
  ledger_lib.check_clean_tree("abc1234")  # a clean tree passes


def test_header_says_when_cells_came_from_a_dirty_tree(finished_sweep):
  text = (finished_sweep / "results.md").read_text()
  commits = json.loads((finished_sweep / "results.json").read_text())[
      "git_commits"]
  dirty = any(c.endswith("-dirty") for c in commits)
  assert ("trained from a tree with uncommitted changes" in text) == dirty
  info = {"command": "c", "git_commits": {"abc-dirty": 2, "def": 1},
          "machines": {"m": 3}}
  assert "**2 cells trained from a tree with uncommitted" in (
      ledger_lib.results_markdown("T", info, [], [], ["accuracy"]))


def test_every_finished_cell_has_a_tensorboard_hparams_session(
    finished_sweep):
  from tensorboard.backend.event_processing import event_accumulator
  from tensorboard.plugins.hparams import plugin_data_pb2
  ledger = json.load(open(finished_sweep / "results.json"))
  sessions = sorted(os.listdir(finished_sweep / ledger_lib.HPARAMS_DIR))
  assert sessions == sorted(c["name"] for c in ledger["cells"])
  for cell in ledger["cells"]:
    accumulator = event_accumulator.EventAccumulator(
        str(finished_sweep / ledger_lib.HPARAMS_DIR / cell["name"]))
    accumulator.Reload()
    [value] = accumulator.Scalars("cell/accuracy")
    np.testing.assert_allclose(value.value,
                               cell["stats"]["accuracy"]["mean"], rtol=1e-6)
    content = accumulator.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]).session_start_info
    written = {k: (v.number_value if v.HasField("number_value")
                   else v.string_value) for k, v in start.hparams.items()}
    assert written == cell["axes"]
