"""Account sources: poll what Cisco's Smart Account (CSSM in the cloud, or an SSM On-Prem
server) says of the licences, on a gentle schedule, and save each poll's answers as
`DIR/<source>.accounts.json` for the parser to read like any saved output.

A source whose only output is files: it imports only lic_exporter.model, lic_exporter.sources
and itself, never the parser or the metrics; its results are plain data. Its modules:

- the configuration: schema (the keys of `accounts:`, their rules, their problems in words),
  settings (what a loaded configuration is), loading (the section -> sources, secrets read);
- one source: client (HTTP: TLS, limits, retries, failure reasons), tokens (OAuth2 client
  credentials), cssm and onprem (the requests of each type), failures (AccountsError and its
  reasons), snapshot (secrets removed, written atomically);
- many sources: schedule (offsets, jitter, fresh snapshots), poller (AccountsPoller: one poll
  at a time per source, each source's status), results (PollResult, AccountStatus),
  daemon_loop (AccountsLoop: the daemon's schedule in a thread of its own).
"""

from lic_exporter.accounts.daemon_loop import AccountsLoop
from lic_exporter.accounts.failures import FORBIDDEN_EXPLANATION, REASONS, AccountsError
from lic_exporter.accounts.poller import AccountsPoller
from lic_exporter.accounts.results import AccountStatus, PollResult
from lic_exporter.accounts.settings import AccountsConfig, AccountsConfigError, AccountSource
from lic_exporter.accounts.snapshot import FORMAT, SUFFIX

__all__ = ["FORBIDDEN_EXPLANATION", "FORMAT", "REASONS", "SUFFIX", "AccountSource", "AccountStatus", "AccountsConfig",
           "AccountsConfigError", "AccountsError", "AccountsLoop", "AccountsPoller", "PollResult"]
