"""Status page benchmark: the page at / for a large synthetic fleet. Times, for N devices:
  diagnose  the findings for every device (computed once per render, shared with /metrics);
  page      the status page from those facts and findings (exposition.landing.status_page):
            one pass over every device, then the MAX_ROWS most urgent written out;
  and prints the page's size and row count. Median of --repeat runs. The page's time must grow
  linearly with the devices (no more than the diagnose pass it shares) and its size stay flat.

    python -m bench.landing_bench [--devices 10000 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lic_exporter.analysis.diagnose import Facts, diagnose
from lic_exporter.exposition.landing import MAX_ROWS, StatusHeader, status_page
from lic_exporter.model.states import AuthorizationState, Mode, RegistrationState
from lic_exporter.model.vocabulary import Attempt, Deadline

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def fleet(devices: int, seed: int = 1) -> list[Facts]:
    """A fleet most of which is healthy, with some in evaluation, out of compliance, failing
    renewals and policy mode, deadlines spread over the next year."""
    rng = random.Random(seed)
    facts = []
    for n in range(devices):
        kind = rng.random()
        captured = NOW - timedelta(hours=rng.uniform(1, 80))
        days = rng.uniform(-5, 365)
        if kind < 0.1:
            facts.append(Facts(f"sw-{n:06d}", mode=Mode.POLICY, captured=captured,
                               deadlines={Deadline.REPORT_ACK: NOW + timedelta(days=days)}))
            continue
        authorization = (AuthorizationState.EVALUATION if kind < 0.15 else AuthorizationState.OUT_OF_COMPLIANCE
                         if kind < 0.2 else AuthorizationState.AUTHORIZED)
        failures = {Attempt.REGISTRATION_RENEWAL: "dns"} if rng.random() < 0.05 else {}
        facts.append(Facts(f"sw-{n:06d}", mode=Mode.SMART, registration=RegistrationState.REGISTERED,
                           authorization=authorization, captured=captured, failures=failures,
                           deadlines={Deadline.REGISTRATION_EXPIRY: NOW + timedelta(days=days),
                                      Deadline.COMMUNICATION_DEADLINE: NOW + timedelta(days=days / 3)}))
    return facts


def median_seconds(run: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    header = StatusHeader(version="bench", revision="bench", python="3", started=NOW, rendered=NOW,
                          watched=("/var/lib/lic_exporter/collect",), files_ok=1, files_error=0)
    print(f"{'devices':>9} {'findings':>9} {'diagnose ms':>12} {'page ms':>9} {'page KiB':>9} {'rows':>5}")
    for devices in args.devices:
        facts = fleet(devices)
        diagnose_seconds, found = median_seconds(lambda facts=facts: diagnose(facts, NOW), args.repeat)
        findings = list(found)  # type: ignore[call-overload]
        page_seconds, page = median_seconds(lambda facts=facts, findings=findings: status_page(
            facts, findings, header, NOW), args.repeat)
        html = bytes(page)  # type: ignore[arg-type]
        rows = html.count(b"<tr class=")
        print(f"{devices:>9} {len(findings):>9} {diagnose_seconds * 1000:>12.1f} {page_seconds * 1000:>9.1f} "
              f"{len(html) / 1024:>9.1f} {rows:>5}")
    print(f"(rows capped at MAX_ROWS={MAX_ROWS}; median of {args.repeat} runs)")


if __name__ == "__main__":
    main()
