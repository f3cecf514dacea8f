"""Tokens kept between commands, one entry per gateway URL, in a file only the user can read.

The folder is ``~/.config/salesml`` (``SALESML_CONFIG_DIR`` overrides it); the file is created with mode 0600 and
the folder with 0700, so other local users cannot read the tokens.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIG_DIR_ENV = "SALESML_CONFIG_DIR"
CREDENTIALS_FILE = "credentials.json"


@dataclass
class Credentials:
    username: str
    access_token: str
    refresh_token: str


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path.home() / ".config" / "salesml"


class CredentialStore:
    """Reads and writes ``credentials.json``: ``{"gateways": {url: {"username", "access_token", "refresh_token"}}}``."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = self.directory / CREDENTIALS_FILE

    def load(self, url: str) -> Credentials | None:
        entry = self._read().get(url)
        if not entry:
            return None
        try:
            return Credentials(entry["username"], entry["access_token"], entry["refresh_token"])
        except (KeyError, TypeError):
            return None

    def save(self, url: str, credentials: Credentials) -> None:
        gateways = self._read()
        gateways[url] = asdict(credentials)
        self._write(gateways)

    def forget(self, url: str) -> None:
        gateways = self._read()
        if gateways.pop(url, None) is not None:
            self._write(gateways)

    def _read(self) -> dict:
        try:
            content = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        gateways = content.get("gateways") if isinstance(content, dict) else None
        return gateways if isinstance(gateways, dict) else {}

    def _write(self, gateways: dict) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"gateways": gateways}, handle, indent=2)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)
