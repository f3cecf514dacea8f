"""The input schema a model records for the predictor: ``[{"name", "dtype", "categories"?, "min"?, "max"?}]``.

The training columns minus the target, in order; ``categories`` lists the values seen in training (as text) for
text columns and for numbers trained as categories, cut to the first ``MAX_CATEGORIES_RECORDED`` (sorted): a list
that long may be incomplete, so the predictor warns of unseen values only for shorter lists.
"""

from __future__ import annotations

MAX_CATEGORIES_RECORDED = 1000
