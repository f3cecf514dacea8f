"""The input contract: rows checked and coerced against a model's feature schema (JSON records and arrow tables)."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest

from services.predictor.input_contract import InputContract, InputRejected

FEATURES = [
    {"name": "product", "dtype": "object", "categories": ["BCAA", "Creatina"]},
    {"name": "price", "dtype": "float64", "min": 50.0, "max": 350.0},
    {"name": "promotion", "dtype": "int64", "min": 0, "max": 1},
    {"name": "day", "dtype": "datetime64[ns]"},
    {"name": "online", "dtype": "bool"},
    {"name": "store", "dtype": "category", "categories": ["north", "south"]},
]
GOOD = {
    "product": "Creatina",
    "price": 150.0,
    "promotion": 0,
    "day": "2024-05-04",
    "online": True,
    "store": "north",
}


@pytest.fixture
def contract() -> InputContract:
    return InputContract(FEATURES, target="sales", max_string_length=50)


def rejected(contract: InputContract, records: list, with_rows: bool = True) -> dict[str, list[str]]:
    with pytest.raises(InputRejected) as caught:
        contract.prepare_records(records, with_rows=with_rows)
    return caught.value.errors


def test_records_become_a_frame_with_training_order_and_dtypes(contract):
    shuffled = {key: GOOD[key] for key in reversed(GOOD)}
    prepared = contract.prepare_records([shuffled, {**GOOD, "promotion": 1, "online": "false"}])
    frame = prepared.frame
    assert list(frame.columns) == [f["name"] for f in FEATURES]
    assert frame.dtypes.astype(str).tolist() == ["object", "float64", "int64", "datetime64[ns]", "bool", "category"]
    assert frame["promotion"].tolist() == [0, 1]
    assert frame["online"].tolist() == [True, False]
    assert frame["day"].iloc[0] == pd.Timestamp("2024-05-04")
    assert prepared.warnings == []


def test_numbers_sent_as_text_that_parse_cleanly_are_accepted(contract):
    prepared = contract.prepare_records([{**GOOD, "price": " 149.90 ", "promotion": "1"}])
    assert prepared.frame["price"].tolist() == [149.9]
    assert prepared.frame["promotion"].tolist() == [1]


def test_missing_columns_are_each_named(contract):
    errors = rejected(contract, [{"product": "BCAA", "price": 100}])
    assert errors == {name: ["missing"] for name in ("promotion", "day", "online", "store")}


def test_a_column_missing_from_some_records_names_the_rows(contract):
    without_price = {k: v for k, v in GOOD.items() if k != "price"}
    errors = rejected(contract, [GOOD, without_price, GOOD, without_price])
    assert errors == {"price": ["row 1: missing", "row 3: missing"]}


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("price", "abc", "expected a number, got 'abc'"),
        ("price", math.nan, "not a finite number"),
        ("price", math.inf, "not a finite number"),
        ("price", "-inf", "not a finite number"),
        ("price", None, "a value is required"),
        ("price", True, "expected a number"),
        ("price", {"amount": 1}, "nested objects and lists are not accepted"),
        ("price", [1, 2], "nested objects and lists are not accepted"),
        ("product", "x" * 51, "text longer than 50 characters"),
        ("product", None, "a value is required"),
        ("product", False, "expected text"),
        ("product", math.nan, "not a finite number"),
        ("day", "not a date", "expected a date or time"),
        ("day", 20240504, "expected a date or time"),
        ("online", "maybe", "expected true or false"),
        ("online", 2, "expected true or false"),
    ],
)
def test_wrong_values_name_the_column_and_row(contract, column, value, expected):
    errors = rejected(contract, [GOOD, {**GOOD, column: value}])
    assert list(errors) == [column]
    assert len(errors[column]) == 1
    assert errors[column][0].startswith("row 1: ")
    assert expected in errors[column][0]


def test_one_object_errors_carry_no_row_number(contract):
    errors = rejected(contract, [{**GOOD, "price": "abc"}], with_rows=False)
    assert errors == {"price": ["expected a number, got 'abc'"]}


def test_many_bad_rows_make_a_short_answer(contract):
    errors = rejected(contract, [{**GOOD, "price": "abc"}] * 1000)
    assert len(errors["price"]) == 6
    assert errors["price"][-1] == "… and 995 more rows"


def test_non_object_records_are_refused(contract):
    assert rejected(contract, [GOOD, [1, 2], "x"]) == {"records": ["each record must be a JSON object (rows 1, 2)"]}


def test_unknown_columns_and_the_target_are_ignored_with_warnings(contract):
    prepared = contract.prepare_records([{**GOOD, "sales": 99, "colour": "red"}])
    assert list(prepared.frame.columns) == [f["name"] for f in FEATURES]
    assert "Ignored column 'sales': it is what the model predicts." in prepared.warnings
    assert "Ignored columns the model does not use: colour." in prepared.warnings


def test_unseen_categories_and_out_of_range_numbers_are_scored_with_warnings(contract):
    prepared = contract.prepare_records([{**GOOD, "product": "Glutamina", "store": "east", "price": 500}])
    assert prepared.frame["product"].tolist() == ["Glutamina"]
    assert prepared.warnings == [
        "Column 'product': values never seen in training: 'Glutamina'.",
        "Column 'price': values outside the training range [50, 350]; predictions there are extrapolations.",
        "Column 'store': values never seen in training: 'east'.",
    ]


def test_a_cut_short_category_list_gives_no_unseen_warning():
    contract = InputContract(
        [{"name": "sku", "dtype": "object", "categories": [str(i) for i in range(1000)]}], "sales", 50
    )
    assert contract.prepare_records([{"sku": "new"}]).warnings == []


def test_an_integer_column_trained_as_categories_takes_integers_and_warns_about_unseen_ones():
    store = {"name": "store", "dtype": "int64", "min": 1, "max": 45, "categories": [str(i) for i in range(1, 46)]}
    contract = InputContract([store], "sales", 50)
    seen = contract.prepare_records([{"store": 3}, {"store": "45"}])
    assert seen.frame["store"].tolist() == [3, 45] and str(seen.frame["store"].dtype) == "int64"
    assert seen.warnings == []
    unseen = contract.prepare_records([{"store": 3}, {"store": 46}])
    assert unseen.warnings == [
        "Column 'store': values outside the training range [1, 45]; predictions there are extrapolations.",
        "Column 'store': values never seen in training: 46.",
    ]
    table = contract.prepare_table(pa.table({"store": pa.array([7, 0], pa.int32())}))
    assert table.frame["store"].tolist() == [7, 0]
    assert "Column 'store': values never seen in training: 0." in table.warnings


def test_an_arrow_table_is_coerced_the_same_way(contract):
    table = pa.table(
        {
            "store": pa.array(["north", "south"]).dictionary_encode(),
            "product": ["BCAA", "Creatina"],
            "price": pa.array([100, 200], pa.int32()),
            "promotion": ["0", "1"],
            "day": pa.array([pd.Timestamp("2024-05-04", tz="America/Sao_Paulo")] * 2),
            "online": [True, False],
            "extra": [1, 2],
        }
    )
    assert contract.column_warnings(table.column_names) == ["Ignored columns the model does not use: extra."]
    frame = contract.prepare_table(table).frame
    assert frame.dtypes.astype(str).tolist() == ["object", "float64", "int64", "datetime64[ns]", "bool", "category"]
    assert frame["price"].tolist() == [100.0, 200.0]
    assert frame["promotion"].tolist() == [0, 1]
    assert frame["day"].iloc[0] == pd.Timestamp("2024-05-04 03:00")


def test_arrow_nulls_nans_and_wrong_types_name_rows_after_the_offset(contract):
    table = pa.table(
        {
            "product": ["BCAA", None],
            "price": [float("nan"), 1.0],
            "promotion": [0, 1],
            "day": pa.array([pd.Timestamp("2024-05-04")] * 2),
            "online": [1.5, 0.0],
            "store": ["north", "north"],
        }
    )
    with pytest.raises(InputRejected) as caught:
        contract.prepare_table(table, row_offset=100)
    assert caught.value.errors == {
        "product": ["row 101: a value is required"],
        "price": ["row 100: not a finite number, got nan"],
        "online": ["row 100: expected true or false, got 1.5"],
    }


def test_arrow_dates_decimals_and_numbers_as_text_columns_are_accepted():
    import datetime
    import decimal

    contract = InputContract(
        [
            {"name": "day", "dtype": "datetime64[ns]"},
            {"name": "price", "dtype": "float64"},
            {"name": "qty", "dtype": "int64"},
        ],
        "sales",
        50,
    )
    table = pa.table(
        {
            "day": pa.array([datetime.date(2024, 5, 4)], pa.date32()),
            "price": pa.array([decimal.Decimal("149.90")], pa.decimal128(10, 2)),
            "qty": pa.array(["12"]),
        }
    )
    frame = contract.prepare_table(table).frame
    assert frame.to_dict(orient="records") == [{"day": pd.Timestamp("2024-05-04"), "price": 149.9, "qty": 12}]
    assert frame.dtypes.astype(str).tolist() == ["datetime64[ns]", "float64", "int64"]


def test_arrow_text_columns_check_lengths_and_warn_about_unseen_categories(contract):
    base = {
        "price": [100.0, 200.0, 300.0],
        "promotion": [0, 1, 0],
        "day": pa.array([pd.Timestamp("2024-05-04")] * 3),
        "online": [True, False, True],
    }
    seen_and_new = pa.table(
        {
            **base,
            "product": ["BCAA", "Whey", "Creatina"],
            "store": pa.array(["north", "east", "south"]).dictionary_encode(),
        }
    )
    prepared = contract.prepare_table(seen_and_new)
    assert prepared.frame["product"].tolist() == ["BCAA", "Whey", "Creatina"]
    assert prepared.frame["store"].dtype == "category"
    assert any("product" in w and "Whey" in w for w in prepared.warnings)
    assert any("store" in w and "east" in w for w in prepared.warnings)

    too_long = pa.table({**base, "product": ["BCAA", "x" * 51, None], "store": ["north"] * 3})
    with pytest.raises(InputRejected) as caught:
        contract.prepare_table(too_long, row_offset=10)
    assert caught.value.errors == {"product": ["row 12: a value is required", "row 11: text longer than 50 characters"]}


def _dictionary_with_a_repeated_value(values: list) -> pa.Array:
    dictionary = pa.array([*dict.fromkeys(value for value in values if value is not None), values[0]])
    positions = {value: index for index, value in enumerate(dictionary.to_pylist()[:-1])}
    return pa.DictionaryArray.from_arrays(pa.array([positions.get(value) for value in values], pa.int32()), dictionary)


def _dictionary_per_value(values: list) -> pa.Array:
    """A dictionary with an entry for every row (as long as the column): read as plain text, not categories."""
    return pa.DictionaryArray.from_arrays(pa.array(range(len(values)), pa.int32()), pa.array(values))


TEXT_ENCODINGS = {
    "plain": lambda values: pa.chunked_array([pa.array(values)]),
    "dictionary": lambda values: pa.chunked_array([pa.array(values).dictionary_encode()]),
    "dictionaries per chunk": lambda values: pa.chunked_array(
        [pa.array(values[:20]).dictionary_encode(), pa.array(values[20:]).dictionary_encode()]
    ),
    "dictionary repeating a value": lambda values: pa.chunked_array([_dictionary_with_a_repeated_value(values)]),
    "dictionary as long as the column": lambda values: pa.chunked_array([_dictionary_per_value(values)]),
}
READ_AS_CATEGORIES = {"dictionary", "dictionaries per chunk"}


@pytest.mark.parametrize("encoding", TEXT_ENCODINGS)
def test_dictionary_encoded_text_is_checked_and_coerced_as_plain_text_is(contract, encoding):
    """Parquet text arrives dictionary-encoded: checked once per distinct value, it must give the same frame,
    warnings and errors as the same text sent plain (a dictionary pandas can't take, or one nearly as long as the
    column, takes the plain way)."""
    encode = TEXT_ENCODINGS[encoding]
    rows = 40
    base = {
        "price": [100.0, 200.0, 300.0, 120.0] * 10,
        "promotion": [0, 1, 0, 1] * 10,
        "day": pa.array([pd.Timestamp("2024-05-04")] * rows),
        "online": [True, False, True, True] * 10,
    }
    products = ["BCAA", "Whey", "BCAA", "Creatina"] * 10
    stores = ["north", "east", "north", "south"] * 10
    prepared = contract.prepare_table(pa.table({**base, "product": encode(products), "store": encode(stores)}))
    assert prepared.frame["product"].tolist() == products
    assert prepared.frame["store"].tolist() == stores
    dtypes = prepared.frame.dtypes.astype(str).tolist()
    assert dtypes == ["object", "float64", "int64", "datetime64[ns]", "bool", "category"]
    assert prepared.warnings == [
        "Column 'product': values never seen in training: 'Whey'.",
        "Column 'store': values never seen in training: 'east'.",
    ]
    for name in ("product", "store"):
        assert list(prepared.scorer_columns[name]) == prepared.frame[name].tolist()
    assert set(prepared.categorical) == ({"product", "store"} if encoding in READ_AS_CATEGORIES else set())

    bad_products = ["BCAA", "x" * 51, None, "x" * 51] + ["BCAA"] * (rows - 4)
    bad = pa.table({**base, "product": encode(bad_products), "store": encode(["north"] * rows)})
    with pytest.raises(InputRejected) as caught:
        contract.prepare_table(bad, row_offset=10)
    assert caught.value.errors == {
        "product": [
            "row 12: a value is required",
            "row 11: text longer than 50 characters",
            "row 13: text longer than 50 characters",
        ]
    }
