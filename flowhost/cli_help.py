"""What ``flowhost run --help`` and ``flowhost validate --help`` tell: what the command does, where flows come
from, and examples. Kept apart from the parser so that the wording can grow without burying the options."""

from __future__ import annotations

LOG_LEVEL_HELP = (
    "how much flowhost logs to stderr: debug (everything, the libraries' own details too), info (default: "
    "starts, deploys, connection states), warning (only what went wrong or may), error"
)

RUN_DESCRIPTION = """\
Run flows: start their nodes and connections, the web editor and REST API, and (unless --no-broker) a local
MQTT test broker. Runs until Ctrl-C or SIGTERM, which stop everything within 5 s.

Where the flows come from, at every start:
  - each FLOW_FILE given (YAML; saving in the editor writes back to that file, keeping its comments);
  - every flow saved in the data dir (DATA_DIR/flows/*.yaml: created or changed in the editor or the REST API);
  - with neither, the demo: flows/demo.yaml of the current directory when it is a flowhost checkout, else the
    copy installed with flowhost. Once the demo is saved from the editor, the data dir's copy runs instead.
At start flowhost prints each flow it runs, its file and why, and the editor's URL with its token.
A flow with errors stops the start: every error is listed as FILE:LINE:COL: path: message."""

RUN_EPILOG = """\
examples:
  flowhost run                              the demo (or the flows saved in ~/.flowhost)
  flowhost run flows/site-a.yaml            one flow file (and the data dir's saved flows)
  flowhost run a.yaml b.yaml --no-broker    two flows against real brokers, no local test broker
  flowhost run --data-dir /srv/flowhost --port 8081
  FLOWHOST_TOKEN=$(openssl rand -hex 24) flowhost run --host 0.0.0.0   reachable from the network
  flowhost run --log-level warning          only what went wrong or may"""

VALIDATE_DESCRIPTION = """\
Check flow files without running anything: YAML, node types, every node's config, wires, connections,
certificates and keys, templates. Prints every error at once as FILE:LINE:COL: path: message (with the
closest valid name for a typo) and exits 1, or exits 0.

A flow may name connections and !secret values that the REST API stored in the data dir (DATA_DIR/
connections.json, DATA_DIR/secrets.json): when the data dir has them, they count as defined. Secrets also come
from FLOWHOST_SECRET_<NAME> and a secrets.yaml beside the flow file."""

VALIDATE_EPILOG = """\
examples:
  flowhost validate flows/*.yaml
  flowhost validate --data-dir /srv/flowhost site-a.yaml   with that flowhost's stored connections"""
