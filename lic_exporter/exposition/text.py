"""The Prometheus text exposition format: the one family type every metric text is written with.

Device series, findings, syslog counters, collection and the exporter's own families all go
through TextFamily, on the daemon's /metrics page and in `parse --format prometheus` alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Literal

Kind = Literal["gauge", "counter"]


class TextFamily:
    """One metric family, formatted as its samples are added: each becomes its exposition line
    at once, with no Sample objects, so 10,000 devices cost text, not memory. `name` is the
    exposed name (a counter's ends in `_total`); label values are given in `labels`' order."""

    __slots__ = ("documentation", "kind", "labels", "lines", "name")

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = (), kind: Kind = "gauge"):
        self.name = str(name)  # a plain str: it is formatted into every sample's line
        self.documentation = documentation
        self.labels = tuple(labels)
        self.kind = kind
        self.lines: list[str] = []

    def add_metric(self, values: Sequence[str], value: float) -> None:
        pairs = ",".join(f'{key}="{_escape(text)}"' for key, text in zip(self.labels, values, strict=True))
        self.lines.append(f"{self.name}{{{pairs}}} {sample_value(value)}\n" if pairs
                          else f"{self.name} {sample_value(value)}\n")

    def header(self) -> str:
        doc = self.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        return f"# HELP {self.name} {doc}\n# TYPE {self.name} {self.kind}\n"

    def samples(self) -> str:
        return "".join(self.lines)

    def text(self) -> str:
        """The whole family: its HELP and TYPE lines, then its samples (none is still a family)."""
        return self.header() + self.samples()


def sample_value(value: float) -> str:
    """A sample's value as the Go exporters (and prometheus_client) print it: `+Inf`, `-Inf`,
    `NaN`; a positive number of seven or more integer digits in exponent form (a Unix time is
    `1.7327e+09`); anything else as Python's shortest round-trip text. Written here rather than
    taken from prometheus_client, whose import (its HTTP server, hashlib) costs a one-shot
    `parse` some 40 ms."""
    number = float(value)
    if number != number:
        return "NaN"
    if number in (_INF, -_INF):
        return "+Inf" if number > 0 else "-Inf"
    text = repr(number)
    point = text.find(".")
    if number <= 0 or point <= 6:  # no point: repr is already in exponent form (1e+16)
        return text
    digits = (text[:point] + text[point + 1:]).rstrip("0")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e+{point - 1:02d}"


_INF = float("inf")


def _escape(text: str) -> str:
    """A label value as the format quotes it: backslash, double quote and newline escaped."""
    if "\\" in text or '"' in text or "\n" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


def one_hot(family: TextFamily, labels: list[str], states: Iterable[StrEnum], current: StrEnum) -> None:
    """Every state of the vocabulary, 1 for the current one and 0 for the others."""
    for state in states:
        family.add_metric([*labels, state.value], 1 if state is current else 0)
