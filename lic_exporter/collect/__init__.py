"""Live collection: log in to the switches over SSH, on a gentle schedule, and save each
session's transcript as `DIR/<device>.log` for the parser to read like any saved output.

A source whose only output is files: it imports only lic_exporter.model, lic_exporter.sources
and itself, never the parser or the metrics; its results are plain data. Its modules:

- the configuration: schema (the keys and their value rules), problems (validation errors in
  words), inventory (Nornir, Oxidized, Ansible), loading (inheritance -> resolved targets),
  targets (what a loaded configuration is); files and secrets are read by
  lic_exporter.sources.documents and .secret_files, shared with the account sources;
- one device: platforms (what each platform runs, the allow-list), transport (SSH: login,
  host keys, algorithms), shell (prompt, pager, reading until the prompt), device (one
  collection -> transcript text), failures (CollectError and its reasons), transcript
  (writing the file atomically);
- many devices: schedule (limits, offsets, shards), runner (CollectionRunner: sessions under
  the limits, each device's status), results (CollectResult, DeviceStatus), daemon_loop
  (CollectLoop: the daemon's schedule in a thread of its own), command (`lic-exporter collect`).
"""

from lic_exporter.collect.command import collect_command, configured
from lic_exporter.collect.daemon_loop import CollectLoop
from lic_exporter.collect.failures import REASONS
from lic_exporter.collect.loading import load_config
from lic_exporter.collect.results import CollectResult, DeviceStatus
from lic_exporter.collect.runner import CollectionRunner
from lic_exporter.collect.schedule import shard_of
from lic_exporter.collect.targets import CollectConfig, ConfigError, Target

__all__ = ["REASONS", "CollectConfig", "CollectLoop", "CollectResult", "CollectionRunner", "ConfigError",
           "DeviceStatus", "Target", "collect_command", "configured", "load_config", "shard_of"]
