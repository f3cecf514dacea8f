"""What every SalesML gunicorn server shares. ``scripts/run_local.sh``, ``docker/start.sh`` and the test harness pass
it with ``--config``; gunicorn also reads it by itself when started from the repository root.

Request limits, chosen rather than left to chance. gunicorn refuses a request over them before any app sees it,
with its own small HTML page: these, and a request gunicorn cannot parse at all, are the only answers that are not
our JSON error shape.
  - a request line (method, path and query) over 4094 bytes: 414. Our paths and queries are far shorter.
  - more than 50 header fields: 431. A browser sends about 15, our CLI fewer than 10.
  - one header field over 8190 bytes: 431. A bearer token is about 400 bytes; browsers' cookies can be large.
  - a malformed request line, header or chunked framing: 400.

Dev mode serves this machine only: a server bound to another address refuses to start unless the operator set every
secret (``shared.dev_secrets``).

Metrics: with ``PROMETHEUS_MULTIPROC_DIR`` (a folder of this server's own), the server empties it when it starts and
drops a dead worker's live gauges from it (``shared.metrics``).
"""

import os
import sys

from shared.config import dev_mode_from_environment
from shared.dev_secrets import DevSecretsRefused, check_bind_address
from shared.metrics import empty_multiprocess_dir, forget_process
from shared.service_client import SERVER_KEEPALIVE_S

limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# An idle kept-alive connection is closed after this; our services' callers stop reusing theirs well before.
keepalive = SERVER_KEEPALIVE_S


def on_starting(server):
    for address in server.cfg.address:
        if not isinstance(address, tuple):  # a Unix socket: this machine only
            continue
        try:
            check_bind_address(address[0], dev_mode_from_environment(), os.environ)
        except DevSecretsRefused as refusal:
            server.log.error("%s", refusal)
            sys.exit(1)
    empty_multiprocess_dir()


def child_exit(server, worker):
    forget_process(worker.pid)
