"""The limits that keep collection gentle: concurrency, one session per device, logins per
second, offsets spread over the interval, backoff after authentication failures, credential
suspension, shards. The session is a stand-in here (SSH itself: test_collect_session.py and
the end-to-end test); everything else is the real scheduler."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from lic_exporter.collect.failures import CollectError
from lic_exporter.collect.runner import CollectionRunner
from lic_exporter.collect.schedule import fresh_transcript, next_slot, offset_in_interval, shard_of
from lic_exporter.collect.targets import CollectConfig, CollectSettings, Credential, Secret, Target

CREDENTIAL = Credential(username="licmon", password="not-a-real-password")


def _targets(count: int, credential: Credential = CREDENTIAL) -> tuple[Target, ...]:
    return tuple(Target(name=f"sw{n:03d}", host="127.0.0.1", credential=credential) for n in range(count))


def _config(targets: tuple[Target, ...], **settings: object) -> CollectConfig:
    return CollectConfig(targets=targets, collect=replace(CollectSettings(), **settings), warnings=())


class StandIn:
    """A session that records when each device was started and how many ran at once."""

    def __init__(self, seconds: float = 0.05, fail: dict[str, str] | None = None):
        self.seconds = seconds
        self.fail = fail or {}
        self.running = 0
        self.most = 0
        self.started: list[tuple[str, float]] = []

    async def __call__(self, target: Target, secret) -> str:
        self.started.append((target.name, time.monotonic()))
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(self.seconds)
            if target.name in self.fail:
                raise CollectError(self.fail[target.name], "refused")
            return f"! lic-exporter transcript device={target.name}\n{target.name}# show clock\n"
        finally:
            self.running -= 1


def test_at_most_concurrency_sessions_and_every_target_once(tmp_path: Path) -> None:
    session = StandIn()
    runner = CollectionRunner(_config(_targets(20), concurrency=4, logins_per_second=1000), tmp_path, session)
    results = asyncio.run(runner.run_once())
    assert session.most == 4 and len(results) == 20 and all(r.ok for r in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"sw{n:03d}.log" for n in range(20)]


def test_one_session_per_device(tmp_path: Path) -> None:
    session = StandIn(seconds=0.2)
    [target] = _targets(1)
    runner = CollectionRunner(_config((target,), logins_per_second=1000), tmp_path, session)

    async def twice():
        return await asyncio.gather(runner.collect(target), runner.collect(target))

    first, second = asyncio.run(twice())
    assert first.ok and second is None and len(session.started) == 1


def test_logins_are_spread_to_the_configured_rate(tmp_path: Path) -> None:
    session = StandIn(seconds=0.0)
    runner = CollectionRunner(_config(_targets(6), concurrency=16, logins_per_second=20), tmp_path, session)
    asyncio.run(runner.run_once())
    starts = sorted(when for _, when in session.started)
    gaps = [b - a for a, b in pairwise(starts)]
    assert min(gaps) >= 0.045 and starts[-1] - starts[0] >= 0.24


def test_offsets_spread_a_fleet_over_the_interval_and_stay_put() -> None:
    interval = 6 * 3600
    buckets = Counter(int(offset_in_interval(f"leaf{n}", interval) // (interval / 10)) for n in range(2000))
    assert set(buckets) == set(range(10)) and min(buckets.values()) > 140
    assert offset_in_interval("leaf7", interval) == offset_in_interval("leaf7", interval)
    settings = CollectSettings(interval=interval, jitter=0.05)
    slot = next_slot("leaf7", settings, 1_000_000.0, random.Random(1))
    assert 1_000_000.0 < slot <= 1_000_000.0 + interval * 1.05
    assert (slot - offset_in_interval("leaf7", interval)) % interval < interval * 0.05 + 1e-6


def test_authentication_failures_back_off_an_hour_doubling_to_a_day(tmp_path: Path) -> None:
    [target] = _targets(1)
    runner = CollectionRunner(_config((target,), logins_per_second=1000, suspend_after=99), tmp_path,
                          StandIn(seconds=0.0, fail={"sw000": "auth"}))
    waits = []
    for _ in range(7):
        result = asyncio.run(runner.collect(target))
        assert result.reason == "auth"
        now = time.time()
        waits.append(runner.next_due(target, now, random.Random(0)) - now)
    assert [round(w / 3600) for w in waits[:5]] == [1, 2, 4, 8, 16] and round(waits[6] / 3600) == 24
    assert runner.status["sw000"].failures["auth"] == 7


def test_a_credential_failing_on_five_devices_is_suspended(tmp_path: Path, caplog) -> None:
    targets = _targets(8)
    session = StandIn(seconds=0.0, fail={t.name: "auth" for t in targets})
    runner = CollectionRunner(_config(targets, concurrency=1, logins_per_second=1000), tmp_path, session)
    results = asyncio.run(runner.run_once())
    assert len(session.started) == 5 and len(results) == 5  # the other three never tried
    assert sum("suspended" in record.message for record in caplog.records) == 1
    assert "not-a-real-password" not in caplog.text
    now = time.time()
    assert runner.next_due(targets[7], now, random.Random(0)) >= now + 3600 - 5


def test_other_failures_are_counted_by_reason_and_do_not_back_off(tmp_path: Path) -> None:
    [target] = _targets(1)
    runner = CollectionRunner(_config((target,), logins_per_second=1000), tmp_path,
                          StandIn(seconds=0.0, fail={"sw000": "timeout"}))
    asyncio.run(runner.collect(target))
    now = time.time()
    assert runner.status["sw000"].failures == Counter({"timeout": 1})
    assert runner.next_due(target, now, random.Random(0)) <= now + 6 * 3600 * 1.06


def test_a_failed_run_keeps_the_previous_transcript(tmp_path: Path) -> None:
    [target] = _targets(1)
    good = CollectionRunner(_config((target,), logins_per_second=1000), tmp_path, StandIn(seconds=0.0))
    asyncio.run(good.collect(target))
    before = (tmp_path / "sw000.log").read_text()
    bad = CollectionRunner(_config((target,), logins_per_second=1000), tmp_path,
                    StandIn(seconds=0.0, fail={"sw000": "disconnect"}))
    asyncio.run(bad.collect(target))
    assert (tmp_path / "sw000.log").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sw000.log"]  # no temporary file left


def test_a_fresh_transcript_is_not_collected_again_at_start(tmp_path: Path) -> None:
    (tmp_path / "sw000.log").write_text("x")
    assert fresh_transcript(tmp_path, "sw000", 3600, time.time())
    assert not fresh_transcript(tmp_path, "sw000", 3600, time.time() + 7200)
    assert not fresh_transcript(tmp_path, "sw001", 3600, time.time())


@pytest.mark.parametrize("shards", [2, 3, 5])
def test_shards_share_one_inventory(shards: int) -> None:
    names = [f"leaf{n}" for n in range(3000)]
    by_shard = Counter(shard_of(name, shards) for name in names)
    assert set(by_shard) == set(range(shards))
    assert min(by_shard.values()) > len(names) / shards * 0.85


def test_collection_is_a_room_of_its_own() -> None:
    """lic_exporter.collect never imports the parser, the metrics, the daemon or the command line:
    only lic_exporter.model, lic_exporter.sources and itself."""
    import ast

    package = Path(__file__).resolve().parent.parent / "lic_exporter" / "collect"
    forbidden = {"parse", "metrics", "daemon", "cli", "serve", "build", "capture", "render", "diagnose", "fleet"}
    stages = {"model", "sources", "collect"}
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]} if node.level == 2 else set()
                if node.level == 0 and (node.module or "").startswith("lic_exporter."):
                    names = {node.module.split(".")[1]}
                    assert names <= stages, f"{path.name} imports {node.module}"
                assert not names & forbidden, f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.split(".")[1:2] and a.name.split(".")[1] in forbidden
                               for a in node.names if a.name.startswith("lic_exporter.")), path.name


def test_the_metrics_know_every_failure_reason() -> None:
    from lic_exporter.collect.failures import REASONS
    from lic_exporter.exposition.metrics import COLLECT_REASONS

    assert tuple(COLLECT_REASONS) == tuple(REASONS)


def test_a_transcript_keeps_no_contact_or_credential(tmp_path: Path) -> None:
    from lic_exporter.collect.transcript import write_transcript

    text = ("sw1# show running-config callhome\ncallhome\n  email-contact noc@example.net\n"
            "  phone-contact +1-408-555-0173\n  streetaddress 4711 Quarry Lane\n"
            "  transport http proxy server http://svc:Pr0xy@proxy.example.net port 8080\n"
            "sw1# show license status\n  Proxy:\n    Username: svc\n    Password: Pr0xy\n  VRF: management\nsw1#\n")
    saved = write_transcript(tmp_path, "sw1", text).read_text()
    for secret in ("noc@example.net", "555-0173", "Quarry", "Pr0xy", "svc"):
        assert secret not in saved
    assert "email-contact <redacted>" in saved and "http://proxy.example.net" in saved and "VRF: management" in saved


# ---------------------------------------------------------------- the limits across a reload

class Counting(StandIn):
    """A stand-in that also notes, as each session starts, how many ran already and the
    concurrency the runner had then."""

    def __init__(self, runner_limit, seconds: float = 0.15):
        super().__init__(seconds=seconds)
        self.runner_limit = runner_limit
        self.at_start: list[tuple[int, int]] = []  # (running before it, the limit then)

    async def __call__(self, target: Target, secret) -> str:
        self.at_start.append((self.running, self.runner_limit()))
        return await super().__call__(target, secret)


def _reload_scenario(runner: CollectionRunner, targets: tuple[Target, ...], after: CollectConfig,
                     first: int) -> None:
    """Collect `first` targets; once some run, reconfigure to `after` and collect the rest too
    (as a SIGHUP that adds targets while a round runs)."""

    async def scenario() -> None:
        running = [asyncio.create_task(runner.collect(t)) for t in targets[:first]]
        await asyncio.sleep(0.05)
        runner.reconfigure(after)
        running += [asyncio.create_task(runner.collect(t)) for t in targets[first:]]
        await asyncio.gather(*running)

    asyncio.run(scenario())


@pytest.mark.parametrize(("before", "after"), [(3, 3), (4, 2), (1, 3)])
def test_sessions_already_running_count_against_the_reloaded_concurrency(tmp_path: Path, before, after) -> None:
    targets = _targets(12)
    runner = CollectionRunner(_config(targets[:6], concurrency=before, logins_per_second=1000), tmp_path, StandIn())
    session = Counting(lambda: runner.slots.limit)
    runner.session = session
    _reload_scenario(runner, targets, _config(targets, concurrency=after, logins_per_second=1000), first=6)
    assert len(session.started) == 12
    assert all(running < limit for running, limit in session.at_start)  # never past the limit of the moment
    assert session.most == max(before, after)  # a raised limit starts the waiting sessions at once
    assert runner.slots.in_use == 0


def _gate_passes(runner: CollectionRunner) -> list[float]:
    """The times logins passed the gate, as the gate's own clock took them: a session's start,
    seen after a thread hop, may lag behind under load and make two logins look closer."""
    passes: list[float] = []
    wait = runner.gate.wait

    async def recorded() -> None:
        await wait()
        passes.append(runner.gate._last)  # set by wait() as the login passed

    runner.gate.wait = recorded  # type: ignore[method-assign]
    return passes


def test_the_login_rate_holds_across_a_reload(tmp_path: Path) -> None:
    targets = _targets(8)
    session = StandIn(seconds=0.0)
    runner = CollectionRunner(_config(targets[:4], concurrency=16, logins_per_second=8), tmp_path, session)
    passes = _gate_passes(runner)
    _reload_scenario(runner, targets, _config(targets, concurrency=16, logins_per_second=8), first=4)
    assert len(session.started) == 8 and len(passes) == 8
    assert min(b - a for a, b in pairwise(sorted(passes))) >= 0.125 - 1e-9  # 1/8 s apart, old and new queue alike


def test_a_lowered_login_rate_applies_to_logins_already_queued(tmp_path: Path) -> None:
    targets = _targets(5)
    session = StandIn(seconds=0.0)
    runner = CollectionRunner(_config(targets, concurrency=16, logins_per_second=20), tmp_path, session)
    passes = _gate_passes(runner)
    _reload_scenario(runner, targets, _config(targets, concurrency=16, logins_per_second=4), first=5)
    passes.sort()
    assert len(session.started) == 5 and min(b - a for a, b in pairwise(passes[2:])) >= 0.25 - 1e-9


def test_a_cancelled_wait_gives_its_slot_on(tmp_path: Path) -> None:
    from lic_exporter.collect.schedule import SessionSlots

    async def scenario() -> list[int]:
        slots = SessionSlots(1)
        seen = []

        async def hold(seconds: float) -> None:
            async with slots:
                seen.append(slots.in_use)
                await asyncio.sleep(seconds)

        first = asyncio.create_task(hold(0.1))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(hold(0.0))
        last = asyncio.create_task(hold(0.0))
        await asyncio.sleep(0.01)
        waiting.cancel()
        await asyncio.gather(first, last, return_exceptions=True)
        return [*seen, slots.in_use]

    assert asyncio.run(scenario()) == [1, 1, 0]


# ---------------------------------------------------------------- a password file replaced during a run

def test_a_password_file_replaced_by_a_fifo_during_a_run_costs_nothing(tmp_path: Path) -> None:
    """The loader's credential keeps the secret it read: a FIFO put in its file's place is never
    opened. A credential made without the loader reads its file in a worker thread, without
    waiting for a writer: the FIFO fails that device at once, and the others are collected."""
    import os

    from lic_exporter.collect.loading import load_config

    secret = tmp_path / "licmon.pw"
    secret.write_text("first\n")
    secret.chmod(0o600)
    config_file = tmp_path / "collect.yml"
    config_file.write_text("defaults: {username: licmon, password_file: licmon.pw}\ntargets: {sw000: {}}\n")
    loaded = load_config(config_file)
    secret.unlink()
    os.mkfifo(secret)  # nothing ever writes to it: opening it for reading would wait for ever
    unloaded = Target(name="sw001", host="127.0.0.1", credential=Credential("licmon", password_file=secret))
    targets = (*loaded.targets, unloaded, *_targets(3)[2:])
    out = tmp_path / "out"
    out.mkdir()
    runner = CollectionRunner(_config(targets, concurrency=4, logins_per_second=1000), out, StandIn())
    results = {result.device: result for result in asyncio.run(asyncio.wait_for(runner.run_once(), 30))}
    assert results["sw000"].ok and results["sw002"].ok
    assert (results["sw001"].ok, results["sw001"].reason) == (False, "other")
    assert results["sw001"].message == f"password_file: {secret}: not a regular file"


# ---------------------------------------------------------------- a fixed secret, reloaded

def _with_secret(targets: tuple[Target, ...], password: str) -> tuple[Target, ...]:
    credential = Credential(username="svc", password_file=Path("/etc/lic_exporter/svc.pw"),
                            loaded=Secret(password=password))
    return tuple(replace(target, credential=credential) for target in targets)


@pytest.mark.parametrize(("new_password", "lifted"), [("fixed-in-the-file", True), ("refused-one", False)])
def test_a_reload_with_a_changed_secret_lifts_the_suspension(tmp_path: Path, caplog, new_password, lifted) -> None:
    """The log line tells the operator to fix the secret and reload: a reload whose secret
    differs from the refused one lifts the suspension and the devices' back-off; the same
    secret reloaded keeps both."""
    caplog.set_level(logging.INFO, logger="lic_exporter")
    targets = _with_secret(_targets(6), "refused-one")
    session = StandIn(seconds=0.0, fail={t.name: "auth" for t in targets})
    runner = CollectionRunner(_config(targets, concurrency=1, logins_per_second=1000), tmp_path, session)
    asyncio.run(runner.run_once())
    identity = targets[0].credential.identity
    assert runner.guard.suspended(identity, runner.clock())
    assert runner.status["sw000"].auth_failures_in_a_row == 1

    runner.reconfigure(_config(_with_secret(_targets(6), new_password), concurrency=1, logins_per_second=1000))
    assert runner.guard.suspended(identity, runner.clock()) is not lifted
    assert (runner.status["sw000"].auth_failures_in_a_row == 0) is lifted
    assert ("suspension lifted" in caplog.text) is lifted
    assert "fixed-in-the-file" not in caplog.text and "refused-one" not in caplog.text
