"""`lic-exporter collect`: one run over the targets, a line per device, exit 0/1/2."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from lic_exporter.collect.loading import load_config
from lic_exporter.collect.runner import CollectionRunner
from lic_exporter.collect.schedule import shard_of
from lic_exporter.collect.targets import CollectConfig, ConfigError

log = logging.getLogger("lic_exporter.collect")


def configured(path: Path, out_dir: Path, limit: str | None = None, shard: tuple[int, int] | None = None,
               jobs: int | None = None) -> CollectConfig:
    """The configuration, narrowed to the targets matching `limit` (a glob on their names) and
    to shard K of N (1-based); `jobs` replaces the concurrency. Targets that check host keys
    without a `known_hosts` of their own record them in DIR/.known_hosts (dot-named: the daemon
    does not read it as an output). Raises ConfigError."""
    config = load_config(path)
    targets = tuple(replace(t, known_hosts=out_dir / ".known_hosts")
                    if t.known_hosts is None and t.host_key_policy != "insecure" else t for t in config.targets)
    if limit:
        targets = tuple(t for t in targets if fnmatch.fnmatchcase(t.name, limit.lower()))
    if shard is not None:
        number, shards = shard
        targets = tuple(t for t in targets if shard_of(t.name, shards) == number - 1)
    settings = replace(config.collect, concurrency=jobs) if jobs else config.collect
    return replace(config, targets=targets, collect=settings)


def collect_command(config_file: Path, out_dir: Path, limit: str | None, jobs: int | None,
                    shard: tuple[int, int] | None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`lic-exporter collect`: every chosen target once; the exit code (0 all collected, 1 some
    failed or were skipped, 2 a usage or configuration error). `out` and `err`: stdout and
    stderr as they are when it runs."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = configured(config_file, out_dir, limit, shard, jobs)
    except ConfigError as exc:
        for line in exc.located(config_file):
            print(f"lic-exporter collect: {line}", file=err)
        return 2
    for warning in config.warnings:
        print(f"lic-exporter collect: warning: {warning}", file=err)
    if not config.targets:
        print("lic-exporter collect: no target to collect" + (f" matches --limit {limit}" if limit else ""),
              file=err)
        return 2
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"lic-exporter collect: --out {out_dir}: {exc.strerror}", file=err)
        return 2
    runner = CollectionRunner(config, out_dir)
    results = {result.device: result for result in asyncio.run(runner.run_once())}
    failed = 0
    for target in config.targets:
        result = results.get(target.name)
        if result is None:  # skipped: its credential was suspended during this run
            print(f"{target.name} skipped credential_suspended 0.00 -", file=out)
            failed += 1
            continue
        print(result.line(), file=out)
        failed += not result.ok
    return 1 if failed else 0
