"""Topic templates: ThingPark ``{Field|$..path|'literal'}`` patterns and sandboxed Jinja ``{{ ... }}``.

The public face of the topic engine, in four modules: :mod:`flowhost.topic_pattern` reads patterns (and says what
a caller's fields are: :class:`TopicFields`), :mod:`flowhost.topic_jsonpath` compiles JsonPath placeholders,
:mod:`flowhost.topic_render` renders a pattern for each uplink, :mod:`flowhost.topic_downlink` makes and matches
downlink subscriptions. The engine knows no field: a plugin says how its fields appear in topics (ThingPark's says
a DevEUI is 16 upper-case hex digits) with :class:`FieldRule`.
"""

from __future__ import annotations

from .topic_downlink import DownlinkTopic, patterns_overlap, subscription_for_pattern
from .topic_pattern import (
    FieldRule,
    PatternJinja,
    PatternLiteral,
    PatternPlaceholder,
    TemplateError,
    TopicFields,
    TopicRenderError,
    scan_pattern,
)
from .topic_render import (
    MAX_TOPIC_BYTES,
    TOPIC_CACHE_SIZE,
    SandboxRefusal,
    TopicTemplate,
    compile_topic_pattern,
    create_environment,
)

__all__ = [
    "MAX_TOPIC_BYTES",
    "TOPIC_CACHE_SIZE",
    "DownlinkTopic",
    "FieldRule",
    "PatternJinja",
    "PatternLiteral",
    "PatternPlaceholder",
    "SandboxRefusal",
    "TemplateError",
    "TopicFields",
    "TopicRenderError",
    "TopicTemplate",
    "compile_topic_pattern",
    "create_environment",
    "patterns_overlap",
    "scan_pattern",
    "subscription_for_pattern",
]
