"""The form of a usage event as clients send it (API and CSV import): bounds,
types and the reason code of each refusal. Plain Python, no database.

:func:`read_event` checks one event's fields and answers either a reason code
or the event's values, ready for the database: every string free of NUL
characters and unpaired surrogates (PostgreSQL refuses both), the quantity a
finite decimal within bounds, the timestamp a naive UTC datetime within the
accepted range, the properties a JSON object of bounded size and depth. The
lookups (metric, contract, periods) are the model's.
"""

import json
import math
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

# ---------------------------------------------------------------- bounds
MAX_BATCH = 10000
"""Events per API request, rows per CSV file."""
MAX_KEY_LENGTH = 255
"""Characters of an idempotency key."""
MAX_CODE_LENGTH = 255
"""Characters of a metric code or a contract reference."""
MAX_CONTRACT_ID = 2**31 - 1
"""Largest contract id (a PostgreSQL integer)."""
MAX_QUANTITY = 10**12
"""Largest quantity of one event (1,000,000,000,000)."""
MAX_QUANTITY_TEXT = 64
"""Characters of a quantity sent as a string; also its most decimal places."""
QUANTITY_PATTERN = r"\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
"""The form of a quantity sent as a string (a plain or scientific decimal)."""
MAX_TIMESTAMP_TEXT = 64
"""Characters of a timestamp."""
MIN_TIMESTAMP = datetime(2000, 1, 1)
"""Earliest timestamp accepted (UTC)."""
MAX_PROPERTIES_BYTES = 16384
"""Size of the properties serialized as compact JSON, in UTF-8 bytes."""
MAX_PROPERTIES_DEPTH = 8
"""Nesting of objects and arrays in the properties (the properties object is 1)."""
MAX_JSON_INT_DIGITS = 100
"""Digits of a JSON integer; longer ones are read as :class:`HugeInteger`."""

# ---------------------------------------------------------------- reasons
REASONS = (
    "invalid_event",
    "missing_key",
    "bad_key",
    "duplicate",
    "missing_metric",
    "bad_metric",
    "missing_contract",
    "bad_contract",
    "bad_quantity",
    "bad_timestamp",
    "bad_properties",
    "unknown_metric",
    "unknown_contract",
    "future_timestamp",
    "contract_not_active",
    "metric_not_on_contract",
    "closed_period",
)
"""Every reason code an event can be answered with (``duplicate`` with the
status ``duplicate``, the others with ``rejected``)."""

FIELDS = (
    "idempotency_key",
    "metric",
    "contract_id",
    "contract_reference",
    "quantity",
    "timestamp",
    "properties",
)

_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_QUANTITY_TEXT = re.compile(QUANTITY_PATTERN)
# one encoder for every event (json.dumps with options builds one per call)
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class HugeInteger:
    """A JSON integer of more than :data:`MAX_JSON_INT_DIGITS` digits: no
    field accepts it, and reading it never hits Python's limit on integer
    conversion (which would refuse the whole body)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"HugeInteger({len(self.text)} characters)"


def _parse_int(text):
    return int(text) if len(text) <= MAX_JSON_INT_DIGITS + 1 else HugeInteger(text)


def loads(data):
    """JSON ``data`` (str or bytes) with huge integers as :class:`HugeInteger`;
    ``NaN`` and ``Infinity`` are read as floats (the fields refuse them).
    Raises ValueError for invalid JSON and RecursionError for a document
    nested deeper than Python can read."""
    return json.loads(data, parse_int=_parse_int)


def is_clean_text(value, max_length):
    """Whether ``value`` is a string of at most ``max_length`` characters that
    PostgreSQL can store (no NUL character, no unpaired surrogate)."""
    return (
        value.__class__ is str
        and len(value) <= max_length
        and _BAD_CHARACTERS.search(value) is None
    )


# ---------------------------------------------------------------- fields


def read_quantity(value):
    """The quantity as decimal text for the database, or None when it is not a
    number from 0 to :data:`MAX_QUANTITY`: a JSON number (not a boolean, not
    NaN or infinite) or a decimal string (:data:`QUANTITY_PATTERN`) of at most
    :data:`MAX_QUANTITY_TEXT` characters and decimal places."""
    cls = value.__class__
    if cls is float:
        # NaN fails every comparison
        return repr(value) if 0 <= value <= MAX_QUANTITY else None
    if cls is int:
        return str(value) if 0 <= value <= MAX_QUANTITY else None
    if cls is not str or len(value) > MAX_QUANTITY_TEXT or not _QUANTITY_TEXT.fullmatch(value):
        return None
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not 0 <= number <= MAX_QUANTITY:
        return None
    if number.as_tuple().exponent < -MAX_QUANTITY_TEXT:
        return None
    return str(number)


def read_timestamp(value):
    """The timestamp as a naive UTC datetime, or None when it is not ISO 8601
    text (an offset or ``Z``; naive means UTC) of at most
    :data:`MAX_TIMESTAMP_TEXT` characters, not before :data:`MIN_TIMESTAMP`."""
    if not is_clean_text(value, MAX_TIMESTAMP_TEXT):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is not None:
            parsed = (parsed - parsed.utcoffset()).replace(tzinfo=None)
    except (ValueError, TypeError, OverflowError):
        return None
    return parsed if parsed >= MIN_TIMESTAMP else None


def _is_valid_json_value(value, depth):
    cls = value.__class__
    if cls is str:
        return _BAD_CHARACTERS.search(value) is None
    if value is None or cls is bool or cls is int:
        return True
    if cls is float:
        return math.isfinite(value)
    if cls is dict or cls is list:
        if depth >= MAX_PROPERTIES_DEPTH:
            return False
        if cls is dict:
            return all(
                key.__class__ is str
                and _BAD_CHARACTERS.search(key) is None
                and _is_valid_json_value(item, depth + 1)
                for key, item in value.items()
            )
        return all(_is_valid_json_value(item, depth + 1) for item in value)
    return False  # HugeInteger


def read_properties(value):
    """``(True, JSON text or None)`` for valid properties (None when empty),
    ``(False, None)`` otherwise. Valid: a JSON object whose strings (keys and
    values) PostgreSQL can store, whose numbers are finite, nested at most
    :data:`MAX_PROPERTIES_DEPTH` levels, at most :data:`MAX_PROPERTIES_BYTES`
    bytes as compact JSON."""
    if value.__class__ is not dict or not _is_valid_json_value(value, 0):
        return False, None
    if not value:
        return True, None
    text = _COMPACT_JSON.encode(value)
    # a character is at most 4 bytes in UTF-8: short texts need no encoding
    if len(text) > MAX_PROPERTIES_BYTES // 4 and len(text.encode()) > MAX_PROPERTIES_BYTES:
        return False, None
    return True, text


def read_event(event, now):
    """``(reason, None)`` for an event that cannot be stored as sent, or
    ``(None, (key, metric code, contract id or None, contract reference or
    None, quantity text, timestamp, properties JSON text or None))``.

    ``now``: the timestamp of an event without one. The rules that need the
    database (unknown metric or contract, periods, the future tolerance) are
    not checked here."""
    if event.__class__ is not dict:
        return "invalid_event", None
    get = event.get
    key = get("idempotency_key")
    if key is None or key == "":
        return "missing_key", None
    if not is_clean_text(key, MAX_KEY_LENGTH):
        return "bad_key", None
    code = get("metric")
    if code is None or code == "":
        return "missing_metric", None
    if not is_clean_text(code, MAX_CODE_LENGTH):
        return "bad_metric", None
    contract_id = get("contract_id")
    reference = get("contract_reference")
    if contract_id is not None and not (
        contract_id.__class__ is int and 1 <= contract_id <= MAX_CONTRACT_ID
    ):
        return "bad_contract", None
    if reference == "":
        reference = None
    if reference is not None and not is_clean_text(reference, MAX_CODE_LENGTH):
        return "bad_contract", None
    if contract_id is None and reference is None:
        return "missing_contract", None
    if contract_id is not None:
        reference = None  # the id, when given, decides
    quantity = read_quantity(get("quantity", 1))
    if quantity is None:
        return "bad_quantity", None
    stamp = get("timestamp")
    if stamp is None or stamp == "":
        timestamp = now
    else:
        timestamp = read_timestamp(stamp)
        if timestamp is None:
            return "bad_timestamp", None
    properties = get("properties")
    if properties is not None:
        valid, properties = read_properties(properties)
        if not valid:
            return "bad_properties", None
    return None, (key, code, contract_id, reference, quantity, timestamp, properties)


# ---------------------------------------------------------------- acceptance


def accept_event(timestamp, horizon, metric, contract):
    """``(reason, None)`` or ``(None, effective timestamp)`` of an event read
    by :func:`read_event`, against what the database says of its metric and
    contract. The one copy of the rules of manual entry, the API and the CSV
    import.

    ``horizon``: the latest timestamp accepted (now + the future tolerance).
    ``metric``: ``(metric id, whether late events are rejected)``.
    ``contract``: ``(state allows usage, first instant of its service, first
    instant after it or None, first instant not invoiced yet or None, whether
    that is after the end, the ids of the metrics it bills)``; instants are
    naive UTC datetimes like ``timestamp``.

    An event before the first instant not invoiced yet counts at that instant,
    unless its metric rejects late events or the contract ended before it."""
    if timestamp > horizon:
        return "future_timestamp", None
    usable, start_at, end_at, open_at, closed, metric_ids = contract
    if not usable or timestamp < start_at or (end_at and timestamp >= end_at):
        return "contract_not_active", None
    metric_id, reject_late = metric
    if metric_id not in metric_ids:
        return "metric_not_on_contract", None
    if open_at and timestamp < open_at:
        if reject_late or closed:
            return "closed_period", None
        return None, open_at
    return None, timestamp
