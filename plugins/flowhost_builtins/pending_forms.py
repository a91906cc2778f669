"""The editor's forms of three validators in modules that other work on issue 14 is rewriting (mqtt_nodes.py,
http_nodes.py), set here so that the core needs no list of the built-ins' private validators.

Remove this module (and its import in ``__init__``) once ``mqtt-in`` uses ``flowhost.validation.subscribe_filter``
and http_nodes' ``_endpoint_path`` and ``_http_url`` carry their own ``form`` (``@with_form(...)``).
"""

from __future__ import annotations

from flowhost.validation import subscribe_filter

from . import http_nodes, mqtt_nodes

mqtt_nodes.subscribe_filter.form = subscribe_filter.form  # type: ignore[attr-defined]
http_nodes._endpoint_path.form = {"type": "string", "format": "path"}  # type: ignore[attr-defined]
http_nodes._http_url.form = {"type": "string", "format": "url"}  # type: ignore[attr-defined]
