"""The README documents every setting the code reads, as `scripts/config_table.py` prints it."""

from pathlib import Path

from scripts.config_table import all_settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme_table_with_who_reads_it_and_a_description():
    missing = [s.name for used_by, s in all_settings() if f"| `{s.name}` | {used_by} |" not in README]
    assert missing == []
    assert all(s.description for _, s in all_settings())


def test_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README
