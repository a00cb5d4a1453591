"""Sweeps: a grid of experiment configs, every cell trained over several seeds.

  grid.py    the sweep config checked and expanded into cells
  runner.py  run_sweep: trains every unfinished cell (shards, --only, stacks)
  ledger.py  finished cells, results.csv/json/md, provenance, read_ledger
  plots.py   the figures of a sweep's table
  picks.py   the recipe picks of a search ledger (experiments.pick_best)

A sweep config (configs/table*.py, built with `configs.common.table_sweep`) holds:
  title: heading of results.md.
  base: a full experiment config, as configs/mnist_dense.py returns.
  axes: ((path, values), ...): the grid, a product over the axes in this
    order. path is a dotted field of base ("model.variant"); its last
    component ("variant") names the axis in cell names, CSV columns and
    cell_overrides, so last components must be unique within a sweep.
  extra_grids: (axes, ...): further products appended after the main one,
    for cells that do not fit it (Table 6's unsupervised 0-label row).
  cell_overrides: ((match, override), ...): every cell whose axis values
    equal all of `match` ({axis name: value}) gets `override` ({path: value})
    applied to its config, e.g. fewer steps for the supervised variant.
  num_seeds: seeds per cell; a cell trains them as ONE vmapped program
    (base.train.num_seeds), seeds base.seed .. base.seed + num_seeds - 1.
  metrics: the metrics results.md shows (results.csv/json hold every one).
  plots: names from plots.PLOTS, written as DIR/<name>.png.
  on_diverged: "stop" (default): a cell whose training diverges stops the
    sweep with the error; "record": the cell is finished as `diverged` (its
    run directory's diverged.json names the step and seed), shown so in the
    tables, and the sweep goes on: a search over learning rates expects some.

`runner.run_sweep(config, workdir, command=...)` trains every cell in
workdir/runs/<cell name>/ with train.train_and_evaluate and writes
results.csv (one row per cell x seed), results.json and results.md (one row
per cell, mean ± sample std).

The workdir is a ledger that can span sessions: the outputs are rewritten
after every finished cell, unfinished cells listed as `pending`. A rerun of
the same command skips finished cells and resumes unfinished ones from their
last checkpoint (or from scratch). Under results/runs/ the small per-cell
files (config.json, metrics.jsonl, results.json) are committed and the
checkpoints git-ignored, so a table grows cell by cell across sessions.
"""
