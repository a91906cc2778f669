"""MQTT topic-filter matching, for routing inbound messages to the subscriptions that asked for them."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1024)
def _filter_levels(topic_filter: str) -> tuple[str, ...]:
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2]
    return tuple(topic_filter.split("/"))


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` (``+`` one level, ``#`` the rest; ``$`` topics only literally)."""
    levels = _filter_levels(topic_filter)
    topic_levels = topic.split("/")
    if topic.startswith("$") and levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(levels) == len(topic_levels)
