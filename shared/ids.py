"""Our integer ids are 32-bit keys: a larger number in a path names nothing (404), never a database overflow (500).

Routes declare them as ``f"<{ID}:run_id>"``.
"""

MAX_ID = 2**31 - 1
ID = f"int(max={MAX_ID})"
