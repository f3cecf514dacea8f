"""The original platform's example: daily sales of five supplements, generated from an explicit rule plus noise.

``expected_sales`` is the rule without noise, so a model trained on ``generate_supplements_sales`` can be checked
against it: "Creatina at R$150, no promotion, on Saturday" should predict close to
``expected_sales("Creatina", 150, 0, "Saturday")``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRODUCTS = ("Whey Protein", "Creatina", "Glutamina", "BCAA", "Multivitamínico")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PRICE_MIN, PRICE_MAX = 50.0, 350.0
TARGET = "sales"

# Units sold per day at price 0, before the weekend and promotion effects.
BASE_SALES = {"Whey Protein": 160.0, "Creatina": 140.0, "Glutamina": 90.0, "BCAA": 110.0, "Multivitamínico": 80.0}
UNITS_LOST_PER_REAL = 0.2
PROMOTION_UNITS = 30.0
WEEKEND_UNITS = 15.0
NOISE_SD = 3.0


def expected_sales(product: str, price: float, promotion: int, weekday: str) -> float:
    """Units sold on average: the product's base, minus 0.2 per real of price, +30 on promotion, +15 on weekends."""
    weekend = WEEKEND_UNITS if weekday in ("Saturday", "Sunday") else 0.0
    return BASE_SALES[product] - UNITS_LOST_PER_REAL * price + PROMOTION_UNITS * promotion + weekend


def generate_supplements_sales(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """``rows`` days of sales with columns product, price (R$50–350), promotion (0/1), weekday and sales."""
    rng = np.random.default_rng(seed)
    product = rng.choice(PRODUCTS, size=rows)
    price = np.round(rng.uniform(PRICE_MIN, PRICE_MAX, size=rows), 2)
    promotion = rng.integers(0, 2, size=rows)
    weekday = rng.choice(WEEKDAYS, size=rows)
    expected = np.array(
        [expected_sales(p, pr, pm, w) for p, pr, pm, w in zip(product, price, promotion, weekday, strict=True)]
    )
    sales = np.round(expected + rng.normal(0.0, NOISE_SD, size=rows), 1)
    return pd.DataFrame(
        {
            "product": pd.Series(product, dtype=object),
            "price": price,
            "promotion": promotion.astype("int64"),
            "weekday": pd.Series(weekday, dtype=object),
            TARGET: sales,
        }
    )
