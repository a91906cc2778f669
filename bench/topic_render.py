"""Time to render one uplink's topic, per pattern kind: the per-uplink cost of the template limits.

    python bench/topic_render.py [CHECKOUT]

CHECKOUT is a directory holding a ``flowhost`` package to measure instead of this one (for a before/after:
``git archive <commit> flowhost | tar -x -C /tmp/before`` then ``python bench/topic_render.py /tmp/before``).
CPU time (not wall time), best of 7 runs of 20,000 renders, so that a busy machine disturbs it less.
"""

from __future__ import annotations

import sys
import time
import timeit
from functools import partial

if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])

from flowhost import templating

PATTERNS = (
    "mqtt/things/{DevEUI}/uplink",
    "mqtt/{CustomerData.name|'none'}/{DevEUI}",
    "mqtt/{{ DevEUI }}/{{ FPort }}",
    "mqtt/{{ CustomerData.name|upper }}/{{ '%03d'|format(FPort) }}/{% for t in CustomerData.tags %}{{ t }}{% endfor %}",
)
DOCUMENT = {
    "DevEUI_uplink": {
        "DevEUI": "0018B20000000B20",
        "FPort": 2,
        "CustomerData": {"name": "site-1", "tags": ["a", "b"]},
    }
}


def main() -> None:
    environment = templating.create_environment()
    print(f"flowhost from {templating.__file__}")
    for pattern in PATTERNS:
        template = templating.compile_topic_pattern(pattern, environment)
        render = partial(template.render, DOCUMENT)
        runs = timeit.repeat(render, number=20_000, repeat=7, timer=time.process_time)
        print(f"{min(runs) / 20_000 * 1e6:8.2f} us  {pattern}")


if __name__ == "__main__":
    main()
