"""Golden exposition pages: a Prometheus text page read into samples and metadata, and a readable
account of how two pages differ."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

Series = tuple[str, tuple[tuple[str, str], ...]]  # sample name, its labels sorted


@dataclass(frozen=True)
class Page:
    """A page as Prometheus reads it: a value per series, HELP and TYPE per family."""

    samples: dict[Series, float]
    families: dict[str, tuple[str, str]]  # family name -> (HELP, TYPE)
    repeated: tuple[Series, ...]  # series given more than once (a broken page)

    @classmethod
    def read(cls, text: str) -> Page:
        samples: dict[Series, float] = {}
        families: dict[str, tuple[str, str]] = {}
        seen: Counter[Series] = Counter()
        for family in text_string_to_metric_families(text):
            families[family.name] = (family.documentation, family.type)
            for sample in family.samples:
                series = (sample.name, tuple(sorted(sample.labels.items())))
                seen[series] += 1
                samples[series] = sample.value
        return cls(samples, families, tuple(series for series, count in seen.items() if count > 1))


def show(series: Series) -> str:
    name, labels = series
    return name + ("{" + ",".join(f'{key}="{value}"' for key, value in labels) + "}" if labels else "")


def _family(meta: tuple[str, str] | None) -> str:
    return "absent" if meta is None else f"HELP {meta[0]!r}, TYPE {meta[1]}"


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def differences(expected: Page, actual: Page) -> list[str]:
    """Every way `actual` differs from `expected`, one line each (empty: the same page)."""
    lines: list[str] = []
    for name in sorted(expected.families.keys() | actual.families.keys()):
        want, got = expected.families.get(name), actual.families.get(name)
        if want != got:
            lines.append(f"~ family {name}: {_family(want)} -> {_family(got)}")
    for series in sorted(expected.samples.keys() | actual.samples.keys()):
        if series not in actual.samples:
            lines.append(f"- {show(series)} {expected.samples[series]!r}")
        elif series not in expected.samples:
            lines.append(f"+ {show(series)} {actual.samples[series]!r}")
        elif not _same(expected.samples[series], actual.samples[series]):
            lines.append(f"~ {show(series)} {expected.samples[series]!r} -> {actual.samples[series]!r}")
    lines += [f"! {show(series)} given more than once" for series in actual.repeated]
    return lines


def prometheus_client_registry(text: str) -> CollectorRegistry:
    """The samples of a page as prometheus_client's own families, in a registry of their own: what
    its generate_latest writes for the same series (the reference the exposition is held to)."""
    families: list[Metric] = []
    for parsed in text_string_to_metric_families(text):
        names = list(parsed.samples[0].labels) if parsed.samples else []
        family = (CounterMetricFamily if parsed.type == "counter" else GaugeMetricFamily)(
            parsed.name, parsed.documentation, labels=names)
        for sample in parsed.samples:
            family.add_metric([sample.labels[name] for name in names], sample.value)
        families.append(family)

    class Snapshot:
        def collect(self) -> list[Metric]:
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot())
    return registry
