"""Test support: scrape a metrics endpoint, parse it with prometheus-client, refuse duplicate series."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Series:
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in series, f"duplicate series {key}"
            series[key] = sample.value
    return series


def scrape(url: str) -> Series:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return parse(response.read().decode())


def value(series: Series, name: str, **labels: str) -> float:
    """The one sample of ``name`` whose labels include ``labels``."""
    found = [
        v
        for (n, ls), v in series.items()
        if n == name and all(dict(ls).get(k) == w for k, w in labels.items())
    ]
    assert len(found) == 1, f"{name} {labels}: {len(found)} samples"
    return found[0]
