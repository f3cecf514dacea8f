"""Print the README's configuration table from the settings the code really reads.

.venv/bin/python scripts/config_table.py
"""

from __future__ import annotations

import importlib

from shared.config import REPO_ROOT, SECRET_SETTINGS, SETTINGS, Setting

SERVICE_SETTINGS_MODULES = (
    "gateway.config",
    "services.projects.config",
    "services.trainer.config",
    "services.predictor.config",
)


def all_settings() -> list[tuple[str, Setting]]:
    """(who reads it, setting): the common settings, each secret with the services that read it, then each
    service's own."""
    rows = [(setting.used_by, setting) for setting in SETTINGS]
    modules = {
        module_name.split(".")[-2]: importlib.import_module(module_name) for module_name in SERVICE_SETTINGS_MODULES
    }
    for name, setting in SECRET_SETTINGS.items():
        readers = ", ".join(owner for owner, module in modules.items() if name in module.SECRETS)
        rows.append((readers, setting))
    for owner, module in modules.items():
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
