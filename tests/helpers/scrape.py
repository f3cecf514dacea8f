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

    @classmethod
    def summed(cls, texts: list[str]) -> Scrape:
        """The samples of several processes' answers added up (the training workers of ``make stack``)."""
        total = cls("")
        for text in texts:
            for key, value in cls(text).values.items():
                total.values[key] = total.values.get(key, 0.0) + value
        return total

    def __call__(self, name: str, **labels: str) -> float:
        return self.values.get((name, frozenset(labels.items())), 0.0)

    def names(self) -> set[str]:
        return {name for name, _ in self.values}
