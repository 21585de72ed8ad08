"""Live collection: log in to the switches over SSH, on a gentle schedule, and save each
session's transcript as `DIR/<device>.log` for the parser to read like any saved output.

A room of its own: configuration (config, inventory), one SSH session (session), the
transcript file (transcript), the limits and the schedule (schedule, loop). It never imports
the parser or the metrics; its only output is transcript files, its results plain data.
"""

from lic_exporter.collect.config import CollectConfig, ConfigError, Target, load_config
from lic_exporter.collect.loop import CollectLoop
from lic_exporter.collect.schedule import Collector, CollectResult, DeviceStatus, shard_of
from lic_exporter.collect.session import REASONS

__all__ = ["REASONS", "CollectConfig", "CollectLoop", "CollectResult", "Collector", "ConfigError", "DeviceStatus",
           "Target", "load_config", "shard_of"]
