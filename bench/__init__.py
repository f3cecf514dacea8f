"""``make bench``: the platform's speed and accuracy measured side by side with PyCaret used directly.

``python -m bench.run [--quick]`` starts the platform as real gunicorn processes (``bench.platform``), measures
(``bench.measure``) and prints a table of figures, ratios and PASS/MISS targets (``bench.report``), also written to
``docs/BENCHMARK.md``.
"""
