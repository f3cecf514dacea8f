"""What every SalesML gunicorn server shares. ``scripts/run_local.sh``, ``docker/start.sh`` and the test harness pass
it with ``--config``; gunicorn also reads it by itself when started from the repository root.

Dev mode serves this machine only: a server bound to another address refuses to start unless the operator set every
secret (``shared.dev_secrets``).
"""

import os
import sys

from shared.config import dev_mode_from_environment
from shared.dev_secrets import DevSecretsRefused, check_bind_address


def on_starting(server):
    for address in server.cfg.address:
        if not isinstance(address, tuple):  # a Unix socket: this machine only
            continue
        try:
            check_bind_address(address[0], dev_mode_from_environment(), os.environ)
        except DevSecretsRefused as refusal:
            server.log.error("%s", refusal)
            sys.exit(1)
