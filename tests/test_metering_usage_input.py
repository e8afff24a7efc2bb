import json
import math
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_metering_engine import usage_input as ui

NOW = datetime(2027, 1, 10, 12)


def event(**vals):
    base = {"idempotency_key": "k", "metric": "m", "contract_id": 7, "quantity": 1}
    base.update(vals)
    return {key: value for key, value in base.items() if value is not ...}


# ------------------------------------------------------------ quantity


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, "0"),
        (1, "1"),
        (10**12, "1000000000000"),
        (2.5, "2.5"),
        (1e12, "1000000000000.0"),
        ("3.5", "3.5"),
        ("+2", "2"),
        (".5", "0.5"),
        ("1e12", "1E+12"),
        ("0" * 63 + "1", "1"),
    ],
)
def test_quantities_within_bounds(value, expected):
    assert ui.read_quantity(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.001,
        10**12 + 1,
        1e12 + 0.001,
        math.nan,
        math.inf,
        -math.inf,
        True,
        False,
        None,
        [1],
        {"v": 1},
        "",
        " 1",
        "-1",
        "-0",
        "1,5",
        "1_000",
        "NaN",
        "Infinity",
        "1e13",
        "1e-65",
        "0" * 64 + "1",
        "1\x00",
        "\u0661",
        ui.HugeInteger("1" * 5000),
    ],
)
def test_quantities_refused(value):
    assert ui.read_quantity(value) is None


@given(st.decimals(min_value=0, max_value=ui.MAX_QUANTITY, places=6, allow_nan=False))
def test_every_decimal_within_bounds_is_kept_exactly(number):
    from decimal import Decimal

    assert Decimal(ui.read_quantity(str(number))) == number


# ------------------------------------------------------------ timestamp


def test_timestamps():
    assert ui.read_timestamp("2027-01-01T09:00:00-03:00") == datetime(2027, 1, 1, 12)
    assert ui.read_timestamp("2027-01-01T12:00:00z") == datetime(2027, 1, 1, 12)
    assert ui.read_timestamp("2000-01-01T00:00:00Z") == ui.MIN_TIMESTAMP
    assert ui.read_timestamp("2027-01-01T12:00:00Z".ljust(64)) == datetime(2027, 1, 1, 12)
    for bad in (
        "1999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",  # overflows when moved to UTC
        "9999-12-31T23:59:59-01:00",
        "2027-01-01T12:00:00Z".ljust(65),
        "2027-01-01\x00",
        "2027-01-01\ud800",
        "yesterday",
        1767225600,
        None,
        True,
    ):
        assert ui.read_timestamp(bad) is None, bad


# ------------------------------------------------------------ properties


def nested(levels):
    value = 1
    for _level in range(levels - 1):
        value = [value]
    return {"a": value}


def test_properties_bounds():
    assert ui.read_properties({}) == (True, None)
    assert ui.read_properties({"região": "sp"}) == (True, '{"região":"sp"}')
    assert ui.read_properties(nested(8))[0]
    assert not ui.read_properties(nested(9))[0]
    at_size = {"a": "x" * (ui.MAX_PROPERTIES_BYTES - 8)}
    assert len(ui.read_properties(at_size)[1]) == ui.MAX_PROPERTIES_BYTES
    assert not ui.read_properties({"a": "x" * (ui.MAX_PROPERTIES_BYTES - 7)})[0]
    # bytes, not characters: é is two bytes in UTF-8
    assert not ui.read_properties({"a": "é" * (ui.MAX_PROPERTIES_BYTES // 2)})[0]
    for bad in (
        [1],
        "x",
        {"a": math.nan},
        {"a": [math.inf]},
        {"a": "\x00"},
        {"\x00": 1},
        {"\udfff": 1},
        {"a": {"b": "\ud800"}},
        {"a": ui.HugeInteger("1" * 200)},
    ):
        assert ui.read_properties(bad) == (False, None), bad


# ------------------------------------------------------------ JSON and events


def test_loads_reads_huge_integers_as_a_marker():
    value = ui.loads('{"a": ' + "1" * 5000 + ', "b": -' + "9" * 101 + ', "c": ' + "9" * 100 + "}")
    assert isinstance(value["a"], ui.HugeInteger)
    assert isinstance(value["b"], ui.HugeInteger)
    assert value["c"] == int("9" * 100)
    assert math.isnan(ui.loads("NaN"))
    with pytest.raises(RecursionError):
        ui.loads("[" * 100000 + "]" * 100000)


@pytest.mark.parametrize(
    "vals, reason",
    [
        ({"idempotency_key": ...}, "missing_key"),
        ({"idempotency_key": ""}, "missing_key"),
        ({"idempotency_key": 5}, "bad_key"),
        ({"idempotency_key": "k" * 256}, "bad_key"),
        ({"metric": ...}, "missing_metric"),
        ({"metric": 5}, "bad_metric"),
        ({"contract_id": ...}, "missing_contract"),
        ({"contract_id": True}, "bad_contract"),
        ({"contract_id": 7.0}, "bad_contract"),
        ({"contract_id": 0}, "bad_contract"),
        ({"contract_id": 2**31}, "bad_contract"),
        ({"contract_reference": 7}, "bad_contract"),
        ({"contract_id": ..., "contract_reference": ""}, "missing_contract"),
        ({"quantity": None}, "bad_quantity"),
        ({"timestamp": 5}, "bad_timestamp"),
        ({"properties": []}, "bad_properties"),
    ],
)
def test_read_event_reasons(vals, reason):
    assert ui.read_event(event(**vals), NOW) == (reason, None)
    assert reason in ui.REASONS


def test_read_event_values():
    assert ui.read_event("x", NOW) == ("invalid_event", None)
    assert ui.read_event(event(quantity=...), NOW) == (None, ("k", "m", 7, None, "1", NOW, None))
    error, values = ui.read_event(
        event(
            contract_id=...,
            contract_reference="REF",
            quantity="2.5",
            timestamp="2027-01-01T00:00:00Z",
            properties={"a": 1},
        ),
        NOW,
    )
    assert error is None
    assert values == ("k", "m", None, "REF", "2.5", datetime(2027, 1, 1), '{"a":1}')
    # the id decides when both are sent
    assert ui.read_event(event(contract_reference="REF"), NOW)[1][2:4] == (7, None)
    assert json.loads(values[6]) == {"a": 1}


# ---------------------------------------------------------------------------
# accept_event: the rules on the metric and the contract
# ---------------------------------------------------------------------------

_T = datetime(2026, 3, 10, 12)
_HORIZON = datetime(2026, 3, 10, 12, 5)
_METRIC = (7, False)
_START = datetime(2026, 1, 1, 3)
_OPEN = datetime(2026, 3, 1, 3)


def _contract(usable=True, end=None, open_at=None, closed=False, metric_ids=frozenset({7})):
    return (usable, _START, end, open_at, closed, metric_ids)


@pytest.mark.parametrize(
    "timestamp, metric, contract, expected",
    [
        (_T, _METRIC, _contract(), (None, _T)),
        (_HORIZON, _METRIC, _contract(), (None, _HORIZON)),  # the horizon itself is accepted
        (datetime(2026, 3, 10, 12, 6), _METRIC, _contract(), ("future_timestamp", None)),
        (_T, _METRIC, _contract(usable=False), ("contract_not_active", None)),
        (datetime(2026, 1, 1, 2), _METRIC, _contract(), ("contract_not_active", None)),
        (_T, _METRIC, _contract(end=_T), ("contract_not_active", None)),  # end is exclusive
        (_T, _METRIC, _contract(metric_ids=frozenset({8})), ("metric_not_on_contract", None)),
        # before the first instant not invoiced yet: counted then...
        (datetime(2026, 2, 20), _METRIC, _contract(open_at=_OPEN), (None, _OPEN)),
        (_T, _METRIC, _contract(open_at=_OPEN), (None, _T)),
        # ...unless the metric rejects late events or the contract ended before it
        (datetime(2026, 2, 20), (7, True), _contract(open_at=_OPEN), ("closed_period", None)),
        (
            datetime(2026, 2, 20),
            _METRIC,
            _contract(open_at=_OPEN, closed=True),
            ("closed_period", None),
        ),
    ],
)
def test_accept_event(timestamp, metric, contract, expected):
    assert ui.accept_event(timestamp, _HORIZON, metric, contract) == expected


def test_accept_event_checks_in_order():
    # a future event on an inactive contract is answered as future
    contract = _contract(usable=False, metric_ids=frozenset())
    assert ui.accept_event(datetime(2027, 1, 1), _HORIZON, _METRIC, contract)[0] == (
        "future_timestamp"
    )
    # an inactive contract is answered before a metric it does not bill
    assert ui.accept_event(_T, _HORIZON, _METRIC, contract)[0] == "contract_not_active"
