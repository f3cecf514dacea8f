"""Container healthcheck (the slim image has no curl): exit 0 when the target answers, 1 when it does not.

python docker/healthcheck.py http://127.0.0.1:8001/health/ready   # the URL answers 2xx
python docker/healthcheck.py --database                           # DATABASE_URL accepts a query
"""

from __future__ import annotations

import os
import sys
import urllib.request

TIMEOUT_SECONDS = 4


def check_url(url: str) -> None:
    """Raise unless ``url`` answers 2xx (urllib raises HTTPError for 4xx/5xx)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        response.read()


def check_database(url: str) -> None:
    """Raise unless the PostgreSQL database at ``url`` answers ``SELECT 1``."""
    import psycopg2

    scheme, _, rest = url.partition("://")
    if not scheme.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://…")
    # libpq reads postgresql:// URLs; SQLAlchemy's driver suffix (postgresql+psycopg2://) is not one of them.
    connection = psycopg2.connect(f"postgresql://{rest}", connect_timeout=TIMEOUT_SECONDS)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    if argv == ["--database"]:
        target, check, url = "database", check_database, os.environ.get("DATABASE_URL", "")
    elif len(argv) == 1 and argv[0].startswith(("http://", "https://")):
        target, check, url = argv[0], check_url, argv[0]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        check(url)
    except Exception as exc:  # any failure means unhealthy; say why in `docker inspect`
        print(f"unhealthy: {target}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
