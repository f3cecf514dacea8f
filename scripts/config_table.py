"""Print the README's configuration table from the settings the code really reads.

.venv/bin/python scripts/config_table.py
"""

from __future__ import annotations

import importlib

from shared.config import REPO_ROOT, SETTINGS, Setting

SERVICE_SETTINGS_MODULES = (
    "gateway.config",
    "services.projects.config",
    "services.trainer.config",
    "services.predictor.config",
)


def all_settings() -> list[tuple[str, Setting]]:
    rows = [("all", setting) for setting in SETTINGS]
    for module_name in SERVICE_SETTINGS_MODULES:
        module = importlib.import_module(module_name)
        owner = module_name.split(".")[-2]
        rows.extend((owner, setting) for setting in module.SETTINGS)
    return rows


def main() -> None:
    print("| variable | used by | default (embedded) | what it does |")
    print("|---|---|---|---|")
    for owner, setting in all_settings():
        default = str(setting.default).replace(str(REPO_ROOT), ".")
        print(f"| `{setting.name}` | {owner} | `{default}` | {setting.description} |")


if __name__ == "__main__":
    main()
