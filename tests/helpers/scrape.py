"""One Prometheus /metrics answer, read into its samples."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """The samples of one /metrics answer."""

    def __init__(self, text: str) -> None:
        self.values = {
            (found.name, frozenset(found.labels.items())): found.value
            for family in text_string_to_metric_families(text)
            for found in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self.values.get((name, frozenset(labels.items())), 0.0)

    def names(self) -> set[str]:
        return {name for name, _ in self.values}
