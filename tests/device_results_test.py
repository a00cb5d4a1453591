"""experiments/device_results.py's pure parts: merging what a device call
returned (refusals, replacing an unfinished run), the data sets --prepare
carries, and the CUDA extras' jax pin. The end-to-end dry run of
scripts/device_tables.sh is tests/device_script_test.py (slow)."""

import io
import json
import os
import re
import tarfile

import pytest

from experiments import device_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _archive(path, members):
  with tarfile.open(path, "w:gz") as tar:
    for name, data in members.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))


def test_merge_refuses_unsafe_paths_and_unfinished_cells(tmp_path):
  source = tmp_path / "back"
  source.mkdir()
  _archive(source / "cells-table3_mnist_cnn.tar.gz",
           {"table3_mnist_cnn/runs/../../escape/results.json": b"{}"})
  with pytest.raises(device_results.MergeRefused, match="unsafe path"):
    device_results.merge(str(source), str(tmp_path / "results"))
  _archive(source / "cells-table3_mnist_cnn.tar.gz",
           {"table3_mnist_cnn/runs/variant=supervised,num_labels=100/"
            "config.json": b"{}"})
  with pytest.raises(device_results.MergeRefused, match="without results"):
    device_results.merge(str(source), str(tmp_path / "results"))
  assert not (tmp_path / "results").exists()


def test_merge_replaces_an_unfinished_run_only_when_asked(tmp_path):
  cell = "variant=supervised,num_labels=100"
  config = json.dumps({"seed": 0}).encode()
  source = tmp_path / "back"
  source.mkdir()
  _archive(source / "cells-table3_mnist_cnn.tar.gz", {
      f"table3_mnist_cnn/runs/{cell}/config.json": config,
      f"table3_mnist_cnn/runs/{cell}/results.json": b"{}"})
  local = tmp_path / "results" / "table3_mnist_cnn" / "runs" / cell
  local.mkdir(parents=True)
  (local / "config.json").write_bytes(config)
  (local / "metrics.jsonl").write_text("{}\n")
  cells, _ = device_results.read_incoming(str(source))
  _, _, refused = device_results.plan_merge(cells, str(tmp_path / "results"),
                                            replace_unfinished=False)
  assert refused and "--replace_unfinished" in refused[0]
  write, _, refused = device_results.plan_merge(
      cells, str(tmp_path / "results"), replace_unfinished=True)
  assert write == [("table3_mnist_cnn", cell)] and not refused
  (local / ".lock").write_text("1 host\n")
  _, _, refused = device_results.plan_merge(
      cells, str(tmp_path / "results"), replace_unfinished=True)
  assert refused and "lock" in refused[0]
  device_results.write_cells(cells, [("table3_mnist_cnn", cell)],
                             str(tmp_path / "results"))
  assert sorted(os.listdir(local)) == ["config.json", "results.json"]


def test_cuda_extras_pin_the_same_jax_range_as_the_cpu_install():
  import tomllib  # pylint: disable=g-import-not-at-top
  with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
    project = tomllib.load(f)["project"]
  pin = next(d for d in project["dependencies"] if re.match(r"jax[<>=]", d))
  extras = project["optional-dependencies"]
  for name, cuda in (("cuda", "cuda13"), ("cuda12", "cuda12")):
    assert extras[name] == [f"jax[{cuda}]{pin[len('jax'):]}"], name


def test_prepare_reads_each_tables_data_sets_from_its_config():
  # recipe_search is named for neither data set: the config says MNIST.
  assert device_results.datasets(["recipe_search"]) == ["mnist"]
  assert device_results.datasets(
      ["table3_mnist_cnn", "table8_fashion_mnist_cnn"]) == [
          "fashion_mnist", "mnist"]
  assert device_results.datasets(["table12_dsprites"]) == ["dsprites"]
  with pytest.raises(device_results.MergeRefused, match="no config"):
    device_results.datasets(["no_such_table"])
