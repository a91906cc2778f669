"""``/api/metrics``: the runtime's counters in Prometheus' text format, for a scraper that sends the API token
(``authorization: {credentials: <token>}`` in a Prometheus scrape config).

Node counters (``processed``, ``errors``, ``uplinks``, ``rejected``...) and connection counters
(``uplinksPublished``, ``publishFailures``, ``reconnections``...) only grow while a node or connection runs, so
they are Prometheus counters labelled by what they count; a redeployed node starts again from zero, which
Prometheus' ``rate()`` reads as a counter reset. Values a connection reports besides its counters
(``uplinksQueued``) and inbox lengths are gauges. Requests the web server refused before routing (no node
saw them) are ``flowhost_http_refused_total``. The process' own memory, CPU and file descriptors come from
``prometheus_client``'s process collector.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiohttp import web

from .. import __version__, keys

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from ..runtime import Runtime


class RuntimeCollector:
    """Reads the runtime at each scrape: nothing is kept between scrapes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        info = GaugeMetricFamily("flowhost_info", "flowhost's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield from self._node_metrics()
        yield from self._connection_metrics()
        yield self._http_refused()

    def _node_metrics(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        node_labels = ["flow", "node", "type"]
        node_events = CounterMetricFamily(
            "flowhost_node_events",
            "What each node counted (messages processed, errors, uplinks...)",
            labels=[*node_labels, "event"],
        )
        node_queued = GaugeMetricFamily(
            "flowhost_node_queued", "Messages waiting in a node's inbox", labels=node_labels
        )
        for flow_id, flow in self.runtime.flows.items():
            for node_id, runner in flow.nodes.items():
                labels = [flow_id, node_id, runner.node_class.type]
                for event, value in sorted(runner.counters.items()):
                    node_events.add_metric([*labels, event], value)
                node_queued.add_metric(labels, runner.inbox.qsize() if runner.inbox is not None else 0)
        yield node_events
        yield node_queued

    def _connection_metrics(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        connection_labels = ["connection", "connector"]
        up = GaugeMetricFamily("flowhost_connection_up", "1 when the connection is OPENED", labels=connection_labels)
        state = GaugeMetricFamily(
            "flowhost_connection_state",
            "The connection's current state (value 1)",
            labels=[*connection_labels, "state"],
        )
        events = CounterMetricFamily(
            "flowhost_connection_events",
            "What each connection counted (uplinks published, rejected, reconnections...)",
            labels=[*connection_labels, "event"],
        )
        values = GaugeMetricFamily(
            "flowhost_connection_value",
            "Values a connection reports besides its counters",
            labels=[*connection_labels, "name"],
        )
        for connection_id, runner in self.runtime.connections.items():
            connection = runner.connection
            labels = [connection_id, connection.connector_id]
            up.add_metric(labels, 1 if connection.state == "OPENED" else 0)
            state.add_metric([*labels, str(connection.state)], 1)
            counters = connection.counters
            for name, value in sorted(connection.snapshot()["counters"].items()):
                if name in counters:
                    events.add_metric([*labels, name], value)
                else:
                    values.add_metric([*labels, name], value)
        yield from (up, state, events, values)

    def _http_refused(self) -> Metric:
        from prometheus_client.core import CounterMetricFamily

        refused = CounterMetricFamily(
            "flowhost_http_refused",
            "Requests the web server refused with 400 before any handler ran (broken chunking, an unknown "
            "content encoding), by the error aiohttp raised",
            labels=["error"],
        )
        for error, value in sorted(self.runtime.http.refused.items()):
            refused.add_metric([error], value)
        return refused


async def metrics(request: web.Request) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    registry.register(RuntimeCollector(request.app[keys.RUNTIME]))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
