r"""The ledger side of scripts/device_tables.sh: plan, pack and merge cells.

A lent device runs a few sweep tables in one call and returns only what its
$OUT folder holds when the call ends, at most 8 files, 2 folders deep, named
in letters, digits, '.', '_' and '-' (cell names hold '=' and ','). So the
finished cells travel as one archive per table:

  OUT/cells-<table>.tar.gz   <table>/runs/<cell>/{config.json, metrics.jsonl,
                             results.json | diverged.json} of every finished
                             cell (never checkpoints), <table>/
                             device_manifest.json (the config argument, the
                             cells, the commit and machine) and <table>/
                             device_logs/ (the tail of each shard's log)

  python -m experiments.device_results plan --tables=T1,T2 --results=DIR \
      --shards=8 [--quick] [--only=REGEX] --plan_file=FILE
    Prints each table's cells (finished / pending) and writes one line
    `<table> <i> <n> <pending cells of shard i>` per shard that has work;
    the script starts only those shards (a sweep shard whose --only matches
    none of its cells is an error, and one with nothing pending is wasted
    start-up).
  python -m experiments.device_results pack --tables=T1,T2 --results=DIR \
      --out=OUT [--quick] [--logs=DIR]
    (Re)writes OUT/cells-<table>.tar.gz for every table whose set of
    finished cells changed since its archive was written (atomically: a
    temporary file renamed). Standard library only, so a copier loop can run
    it every few seconds.
  python -m experiments.device_results merge --from=FILES_AT [--results=results]
      [--replace_unfinished]
    Extracts the archives (or a folder laid out as results/<table>/runs/
    <cell>/) into the results root and rewrites each table's ledger as
    `python -m experiments.sweep --config=... --workdir=... --status_only`
    does (in this process). A cell already finished there is skipped if
    its files are identical and refused if they differ; an unfinished run
    directory (one the CPU started) is refused unless --replace_unfinished
    and the two configs are the same; a run directory holding a lock file
    (a job may be training it) is refused. Any refusal writes nothing at
    all, so a merge is all or nothing, and rerunning it is a no-op.
  python -m experiments.device_results summary --tables=... --results=DIR
    One line per finished cell: its steps, wall time and training
    throughput (`examples_per_s=`, compile and evaluation included).
  python -m experiments.device_results datasets --tables=T1,T2
    The data sets (data.name) the tables' cells read, one per line: what
    `device_tables.sh --prepare` must carry (read from the configs, so a
    table named for neither data set, e.g. recipe_search, still gets its
    data).
"""

import argparse
import io
import json
import os
import re
import shutil
import sys
import tarfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = "runs"  # ssvae.sweep.ledger.RUNS_DIR (not imported: no jax here)
FINISHED_FILES = ("results.json", "diverged.json")  # either marks a finish
CELL_FILES = ("config.json", "metrics.jsonl") + FINISHED_FILES
MANIFEST = "device_manifest.json"
LOGS = "device_logs"
LOG_TAIL_BYTES = 200_000  # of each shard's log in the archive
ARCHIVE_PREFIX, ARCHIVE_SUFFIX = "cells-", ".tar.gz"
QUICK = ":quick"


def config_arg(table: str, quick: bool) -> str:
  return f"configs/{table}.py" + (QUICK if quick else "")


def archive_name(table: str) -> str:
  return f"{ARCHIVE_PREFIX}{table}{ARCHIVE_SUFFIX}"


def finished_cell_dirs(results: str, table: str) -> dict[str, str]:
  """{cell name: run directory} of the cells with a results.json (or
  diverged.json) under results/<table>/runs/."""
  runs = os.path.join(results, table, RUNS)
  if not os.path.isdir(runs):
    return {}
  return {name: os.path.join(runs, name) for name in sorted(os.listdir(runs))
          if any(os.path.isfile(os.path.join(runs, name, f))
                 for f in FINISHED_FILES)}


def _signature(cell_dir: str) -> list:
  """What changes when a finished cell's small files change."""
  out = []
  for name in CELL_FILES:
    path = os.path.join(cell_dir, name)
    if os.path.isfile(path):
      stat = os.stat(path)
      out.append([name, stat.st_size, stat.st_mtime_ns])
  return out


def _read_manifest(archive: str):
  try:
    with tarfile.open(archive, "r:gz") as tar:
      for member in tar.getmembers():
        if member.name.endswith("/" + MANIFEST):
          return json.load(tar.extractfile(member))
  except (OSError, tarfile.TarError, ValueError):
    return None
  return None


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
  info = tarfile.TarInfo(name)
  info.size = len(data)
  info.mtime = int(time.time())
  info.mode = 0o644
  tar.addfile(info, io.BytesIO(data))


def _log_tail(path: str) -> bytes:
  with open(path, "rb") as f:
    f.seek(max(os.path.getsize(path) - LOG_TAIL_BYTES, 0))
    return f.read()


def pack_table(table: str, results: str, out: str, *, quick: bool,
               logs: str = "", force: bool = False) -> bool:
  """Writes OUT/cells-<table>.tar.gz if its finished cells changed (or
  force); returns whether it wrote. Nothing is written for a table with no
  finished cell."""
  cells = finished_cell_dirs(results, table)
  if not cells:
    return False
  signature = {name: _signature(d) for name, d in cells.items()}
  archive = os.path.join(out, archive_name(table))
  old = _read_manifest(archive) if os.path.exists(archive) else None
  if not force and old is not None and old.get("signature") == signature:
    return False
  manifest = {"table": table, "config": config_arg(table, quick),
              "cells": sorted(cells), "signature": signature,
              "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
  for name in sorted(cells):  # the commit and machine that trained them
    path = os.path.join(cells[name], "results.json")
    try:
      with open(path) as f:
        done = json.load(f)
      manifest.setdefault("trained_by", {})[name] = {
          k: done.get(k) for k in ("git_commit", "machine")}
    except (OSError, ValueError):
      pass
  tmp = f"{archive}.{os.getpid()}.tmp"
  with tarfile.open(tmp, "w:gz") as tar:
    for name, cell_dir in sorted(cells.items()):
      for file_name in CELL_FILES:
        path = os.path.join(cell_dir, file_name)
        if os.path.isfile(path):
          tar.add(path, arcname=f"{table}/{RUNS}/{name}/{file_name}",
                  recursive=False)
    _add_bytes(tar, f"{table}/{MANIFEST}",
               json.dumps(manifest, indent=1).encode())
    if logs and os.path.isdir(logs):
      for log in sorted(os.listdir(logs)):
        if log.startswith(table + ".") and log.endswith(".log"):
          _add_bytes(tar, f"{table}/{LOGS}/{log}",
                     _log_tail(os.path.join(logs, log)))
  os.replace(tmp, archive)  # a call cut off here keeps the previous archive
  return True


# ------------------------------------------------------------------ merge


class MergeRefused(Exception):
  pass


_SAFE_PART = re.compile(r"^[^/\\\x00]+$")


def _check_member(name: str) -> tuple:
  """(table, kind, cell, file) of an archive member; kind is 'cell',
  'manifest', 'log' or None (ignored)."""
  parts = name.split("/")
  if (name.startswith("/") or any(p in ("", ".", "..") for p in parts)
      or not all(_SAFE_PART.match(p) for p in parts)):
    raise MergeRefused(f"unsafe path {name!r} in an archive")
  if len(parts) == 4 and parts[1] == RUNS and parts[3] in CELL_FILES:
    return parts[0], "cell", parts[2], parts[3]
  if len(parts) == 2 and parts[1] == MANIFEST:
    return parts[0], "manifest", None, None
  return parts[0], None, None, None


def read_incoming(source: str) -> tuple[dict, dict]:
  """From a folder of archives and/or of results/-shaped folders:
  ({(table, cell): {file: bytes}}, {table: manifest})."""
  cells, manifests = {}, {}
  def add(table, cell, file_name, data, where):
    files = cells.setdefault((table, cell), {})
    if file_name in files and files[file_name] != data:
      raise MergeRefused(f"{table}/{cell}/{file_name} comes twice with "
                         f"different contents ({where})")
    files[file_name] = data
  for entry in sorted(os.listdir(source)):
    path = os.path.join(source, entry)
    if entry.endswith(ARCHIVE_SUFFIX) and os.path.isfile(path):
      with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
          if not member.isfile():
            continue
          table, kind, cell, file_name = _check_member(member.name)
          if kind is None:
            continue
          data = tar.extractfile(member).read()
          if kind == "manifest":
            manifests[table] = json.loads(data)
          else:
            add(table, cell, file_name, data, entry)
    elif os.path.isdir(os.path.join(path, RUNS)):  # <table>/runs/<cell>/
      manifest = os.path.join(path, MANIFEST)
      if os.path.isfile(manifest):
        with open(manifest) as f:
          manifests[entry] = json.load(f)
      for cell in sorted(os.listdir(os.path.join(path, RUNS))):
        for file_name in CELL_FILES:
          file_path = os.path.join(path, RUNS, cell, file_name)
          if os.path.isfile(file_path):
            with open(file_path, "rb") as f:
              add(entry, cell, file_name, f.read(), path)
  unfinished = [f"{t}/{c}" for (t, c), files in cells.items()
                if not any(f in files for f in FINISHED_FILES)]
  if unfinished:
    raise MergeRefused(f"cells without results.json: {unfinished}")
  return cells, manifests


def plan_merge(cells: dict, results: str, replace_unfinished: bool
               ) -> tuple[list, list, list]:
  """(cells to write, cells already there, refusals)."""
  write, same, refused = [], [], []
  for (table, cell), files in sorted(cells.items()):
    dest = os.path.join(results, table, RUNS, cell)
    if not os.path.exists(dest):
      write.append((table, cell))
      continue
    if os.path.exists(os.path.join(dest, ".lock")):
      refused.append(f"{table}/{cell}: {dest} holds a lock file (a job may "
                     "be training it; if none is, delete the lock)")
      continue
    if any(os.path.isfile(os.path.join(dest, f)) for f in FINISHED_FILES):
      differ = [f for f in CELL_FILES
                if (f in files) != os.path.isfile(os.path.join(dest, f))
                or (f in files and _read(os.path.join(dest, f)) != files[f])]
      if differ:
        refused.append(f"{table}/{cell}: finished in {dest} already, with "
                       f"different {', '.join(differ)}")
      else:
        same.append((table, cell))
      continue
    local = os.path.join(dest, "config.json")
    if not replace_unfinished:
      refused.append(f"{table}/{cell}: {dest} holds an unfinished run; "
                     "--replace_unfinished replaces it with the finished one")
    elif os.path.isfile(local) and json.loads(_read(local)) != json.loads(
        files["config.json"]):
      refused.append(f"{table}/{cell}: the unfinished run in {dest} has "
                     "another config; not replaced")
    else:
      write.append((table, cell))
  return write, same, refused


def _read(path: str) -> bytes:
  with open(path, "rb") as f:
    return f.read()


def write_cells(cells: dict, to_write: list, results: str) -> None:
  for table, cell in to_write:
    dest = os.path.join(results, table, RUNS, cell)
    if os.path.exists(dest):  # an unfinished run, replaced (plan_merge)
      shutil.rmtree(dest)
    tmp = dest + ".merging"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for file_name, data in cells[(table, cell)].items():
      with open(os.path.join(tmp, file_name), "wb") as f:
        f.write(data)
    os.replace(tmp, dest)


def rewrite_ledger(table: str, config: str, results: str) -> str:
  """What `python -m experiments.sweep --config=CONFIG --workdir=results/
  <table> --status_only` does, in this process; returns the status line."""
  import shlex  # pylint: disable=g-import-not-at-top
  from ssvae.sweep import runner  # pylint: disable=g-import-not-at-top
  workdir = os.path.join(results, table)
  sweep_config = _load_config(config)
  command = " ".join(["python", "-m", "experiments.sweep",
                      shlex.quote(f"--config={config}"),
                      shlex.quote(f"--workdir={workdir}")])
  summary = runner.run_sweep(sweep_config, workdir, command=command,
                            train_pending=False)
  pending = sum(1 for c in summary if c.pending)
  return (f"{workdir}: {len(summary) - pending} of {len(summary)} cells "
          f"finished, {pending} pending ({command} --status_only)")


def _load_config(config: str):
  """configs/<name>.py[:arg] -> its get_config(arg), locked as
  config_flags locks it."""
  import importlib  # pylint: disable=g-import-not-at-top
  path, _, arg = config.partition(":")
  name = os.path.splitext(os.path.basename(path))[0]
  if not re.fullmatch(r"\w+", name) or not os.path.isfile(
      os.path.join(REPO, "configs", name + ".py")):
    raise MergeRefused(f"no config configs/{name}.py for {config!r}")
  if REPO not in sys.path:
    sys.path.insert(0, REPO)
  sweep_config = importlib.import_module(f"configs.{name}").get_config(arg)
  sweep_config.lock()
  return sweep_config


def merge(source: str, results: str, *, replace_unfinished: bool = False,
          configs: dict = None) -> dict:
  """Merges `source` into `results` (module docstring); returns counts.
  configs: {table: config argument} for tables whose archives carry no
  manifest (default configs/<table>.py)."""
  cells, manifests = read_incoming(source)
  if not cells:
    raise MergeRefused(f"no finished cells in {source}")
  to_write, same, refused = plan_merge(cells, results, replace_unfinished)
  if refused:
    raise MergeRefused("nothing merged; refused:\n  " + "\n  ".join(refused))
  write_cells(cells, to_write, results)
  tables = sorted({t for t, _ in cells})
  status = []
  for table in tables:
    config = (configs or {}).get(table) or manifests.get(table, {}).get(
        "config") or config_arg(table, False)
    status.append(rewrite_ledger(table, config, results))
  for table, cell in to_write:
    print(f"merged {table}/{cell}")
  for table, cell in same:
    print(f"already there (identical) {table}/{cell}")
  for line in status:
    print(f"ledger {line}")
  return {"written": len(to_write), "identical": len(same),
          "tables": tables}


# ------------------------------------------------------------ plan, summary


def plan(tables: list, results: str, shards: int, quick: bool,
         only: str = None) -> list:
  """[(table, shard index, shard count, [pending cell names])] of the
  shards with work, and prints each table's state."""
  from ssvae.sweep import grid  # pylint: disable=g-import-not-at-top
  from ssvae.sweep import ledger  # pylint: disable=g-import-not-at-top
  pattern = re.compile(only) if only else None
  jobs = []
  for table in tables:
    config = config_arg(table, quick)
    cells = grid.check_sweep(_load_config(config))
    finished = ledger.finished_cells(cells, os.path.join(results, table))
    wanted = {c.name for c in cells if c.name not in finished
              and (pattern is None or pattern.search(c.name))}
    count = max(1, min(shards, len(cells)))
    table_jobs = []
    for index in range(count):
      mine = [c.name for c in cells[index::count] if c.name in wanted]
      if mine:
        table_jobs.append((table, index, count, mine))
    print(f"plan {table} ({config}): {len(cells)} cells, {len(finished)} "
          f"finished, {len(wanted)} to train"
          + (f" (--only={only})" if only else "")
          + f" in {len(table_jobs)} shard(s) of {count}", flush=True)
    jobs.extend(table_jobs)
  return jobs


def datasets(tables: list, quick: bool = False) -> list[str]:
  """The sorted data.name of every cell of the tables' sweeps."""
  from ssvae.sweep import grid  # pylint: disable=g-import-not-at-top
  return sorted({cell.config.data.name for table in tables
                 for cell in grid.check_sweep(
                     _load_config(config_arg(table, quick)))})


def _train_rate(metrics_path: str, batch: int):
  """Examples/s of one seed over the last two thirds of the run's train
  records (compile at the start left out, evaluations in between kept);
  None with fewer than 3 records. The trainer's records hold the rate
  since the run started, step * batch / elapsed, from which the elapsed
  time of each is recovered (wrong for a resumed run, whose rate counts
  from the resumed step: the cells of a device call are never resumed)."""
  times = []
  try:
    with open(metrics_path) as f:
      for line in f:
        record = json.loads(line)
        if (record.get("split") == "train" and record.get("seed") == 0
            and record.get("examples_per_s")):
          times.append((record["step"],
                        record["step"] * batch / record["examples_per_s"]))
  except (OSError, ValueError, TypeError):
    return None
  if len(times) < 3:
    return None
  (s0, t0), (s1, t1) = times[len(times) // 3], times[-1]
  return (s1 - s0) * batch / (t1 - t0) if t1 > t0 else None


def summary_lines(tables: list, results: str) -> list:
  lines = []
  for table in tables:
    for name, cell_dir in finished_cell_dirs(results, table).items():
      try:
        with open(os.path.join(cell_dir, "results.json")) as f:
          done = json.load(f)
        with open(os.path.join(cell_dir, "config.json")) as f:
          config = json.load(f)
      except (OSError, ValueError):
        lines.append(f"cell {table}/{name}: finished (no results.json)")
        continue
      train = config.get("train", {})
      steps, wall = done.get("step"), done.get("wall_s")
      seeds, batch = train.get("num_seeds", 1), train.get("batch_size")
      rate = (f" cell_examples_per_s={steps * batch * seeds / wall:.0f}"
              " (whole cell: compile, evaluation, checkpoints)"
              if steps and wall and batch else "")
      steady = batch and _train_rate(
          os.path.join(cell_dir, "metrics.jsonl"), batch)
      if steady:
        rate += (f"; train_examples_per_s={steady * seeds:.0f} (the last "
                 "two thirds of training, if never resumed)")
      lines.append(f"cell {table}/{name}: {steps} steps x {seeds} seeds at "
                   f"batch {batch} in {wall or 0:.0f} s;{rate}")
  return lines


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  sub = parser.add_subparsers(dest="command", required=True)
  for name in ("plan", "pack", "summary"):
    p = sub.add_parser(name)
    p.add_argument("--tables", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--quick", action="store_true")
    if name == "plan":
      p.add_argument("--shards", type=int, default=1)
      p.add_argument("--only", default=None)
      p.add_argument("--plan_file", required=True)
    if name == "pack":
      p.add_argument("--out", required=True)
      p.add_argument("--logs", default="")
      p.add_argument("--force", action="store_true")
  p = sub.add_parser("datasets")
  p.add_argument("--tables", required=True)
  p.add_argument("--quick", action="store_true")
  p = sub.add_parser("merge")
  p.add_argument("--from", dest="source", required=True)
  p.add_argument("--results", default=os.path.join(REPO, "results"))
  p.add_argument("--replace_unfinished", action="store_true")
  args = parser.parse_args(argv)
  if args.command == "merge":
    try:
      merge(args.source, args.results,
            replace_unfinished=args.replace_unfinished)
    except MergeRefused as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
    return 0
  tables = [t for t in args.tables.replace(",", " ").split() if t]
  if args.command == "plan":
    jobs = plan(tables, args.results, args.shards, args.quick, args.only)
    with open(args.plan_file, "w") as f:
      for table, index, count, cells in jobs:
        f.write(f"{table} {index} {count} {len(cells)}\n")
  elif args.command == "datasets":
    try:
      print("\n".join(datasets(tables, args.quick)))
    except MergeRefused as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
  elif args.command == "pack":
    os.makedirs(args.out, exist_ok=True)
    for table in tables:
      if pack_table(table, args.results, args.out, quick=args.quick,
                    logs=args.logs, force=args.force):
        print(f"copied {table}: {len(finished_cell_dirs(args.results, table))}"
              f" finished cell(s) -> {archive_name(table)}", flush=True)
  else:
    for line in summary_lines(tables, args.results):
      print(line)
  return 0


if __name__ == "__main__":
  sys.exit(main())
