"""Fixed-width records: field specs, a record writer/reader and parse helpers.

Everything here is plain Python (no Odoo import); CNAB 240/400/150 layouts are
built from these pieces.

A record layout (``Record``) is a tuple of ``Field`` specs — name, 1-based
inclusive ``start``/``end``, kind and default — checked when the layout is
built for overlaps and positions beyond the record length. Kinds:

- ``num``: digits kept as a string (identifiers: our number, agência), written
  right-aligned and zero-filled;
- ``int``: an integer (counts, sequence numbers), zero-filled;
- ``doc``: an inscription number (CPF, CNPJ) — digits or upper-case letters,
  since the alphanumeric CNPJ (``12ABC34501DE35``) travels in the same
  positions as the numeric one: right-aligned and zero-filled, as the banks'
  guidance for the alphanumeric CNPJ says;
- ``alpha``: text, left-aligned and space-filled; written folded to ASCII
  (``João`` → ``Joao``); read with trailing spaces removed;
- ``date`` / ``time``: ``date`` / ``time`` objects in the field's format; a
  date of zeros, or blanks, reads as None;
- ``amount``: Decimal with ``decimals`` implied decimal places.

A blank ``num`` or ``doc`` field reads as ``""`` (and writes back as blanks); blank
``int``, ``amount``, ``date`` and ``time`` fields read as None. Fields named
``_...`` are fillers (written, never read back). ``const`` fields are checked
on reading (record type, segment code...). ``Record.derive`` replaces the
fields a bank moves, so that bank-specific layouts stay data.

Errors are ``CnabError(line_number, field, message)``.
"""

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from ...rbm_recurring.engine import money

KINDS = ("num", "int", "doc", "alpha", "date", "time", "amount")
_DOC_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class CnabError(ValueError):
    """A problem in a CNAB line: ``line_number`` (1-based, None when writing
    outside a file), ``field`` (layout field name, or ``line``) and
    ``message``."""

    def __init__(self, line_number, field, message):
        where = f"line {line_number}: " if line_number else ""
        super().__init__(f"{where}{field}: {message}")
        self.line_number = line_number
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------
# Fields and records
# ---------------------------------------------------------------------------


def ascii_text(value):
    """``value`` folded to ASCII (accents removed), as CNAB files expect."""
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")


@dataclass(frozen=True)
class Field:
    """One fixed-width field (see the module docstring for the kinds)."""

    name: str
    start: int
    end: int
    kind: str = "alpha"
    default: object = None
    const: bool = False
    decimals: int = 2
    fmt: str = "%d%m%Y"
    truncate: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}")
        if not 1 <= self.start <= self.end:
            raise ValueError(f"field {self.name}: bad positions {self.start}-{self.end}")
        if self.const and self.default is None:
            raise ValueError(f"field {self.name}: a const field needs a default")

    @property
    def width(self):
        return self.end - self.start + 1

    @property
    def filler(self):
        return self.name.startswith("_")

    def encode(self, value):
        """Text of ``value`` (or the default when None); ValueError if it does
        not fit."""
        if value is None:
            value = self.default
        if value is None:
            return (" " if self.kind == "alpha" else "0") * self.width
        if value == "" and self.kind in ("num", "doc"):
            return " " * self.width  # a blank numeric field, as read
        return getattr(self, f"_encode_{self.kind}")(value)

    def _fit(self, text):
        if len(text) > self.width:
            raise ValueError(f"{text!r} has {len(text)} characters, the field holds {self.width}")
        return text

    def _encode_num(self, value):
        text = str(value) if isinstance(value, int) and value >= 0 else value
        if not isinstance(text, str) or not (text.isascii() and text.isdigit()):
            raise ValueError(f"expected digits, got {value!r}")
        return self._fit(text).zfill(self.width)

    def _encode_doc(self, value):
        if not isinstance(value, str) or not value or not set(value) <= _DOC_CHARS:
            raise ValueError(f"expected digits or upper-case letters, got {value!r}")
        return self._fit(value).zfill(self.width)

    def _encode_int(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"expected a non-negative integer, got {value!r}")
        return self._fit(str(value)).zfill(self.width)

    def _encode_alpha(self, value):
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {value!r}")
        text = ascii_text(value)
        if not text.isprintable():
            raise ValueError(f"{value!r} has non-printable characters")
        if self.truncate:
            text = text[: self.width]
        return self._fit(text).ljust(self.width)

    def _encode_date(self, value):
        if not isinstance(value, date):
            raise ValueError(f"expected a date, got {value!r}")
        return self._fit(value.strftime(self.fmt)).zfill(self.width)

    def _encode_time(self, value):
        if not isinstance(value, time | datetime):
            raise ValueError(f"expected a time, got {value!r}")
        return self._fit(value.strftime(self.fmt))

    def _encode_amount(self, value):
        try:
            amount = money.to_decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise ValueError(f"expected an amount, got {value!r}") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"expected a non-negative amount, got {value!r}")
        scaled = amount.scaleb(self.decimals)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more than {self.decimals} decimal places")
        text = str(int(scaled))
        if len(text) > self.width:
            raise ValueError(f"{amount} does not fit in {self.width} digits")
        return text.zfill(self.width)

    def decode(self, text):
        """Value of the field's ``text``; ValueError if malformed."""
        if self.kind == "alpha":
            return text.rstrip()
        if not text.strip():
            return "" if self.kind in ("num", "doc") else None
        if self.kind == "doc":
            if not set(text) <= _DOC_CHARS:
                raise ValueError(f"expected digits or upper-case letters, got {text!r}")
            return text
        if self.kind == "num":
            if not (text.isascii() and text.isdigit()):
                raise ValueError(f"expected digits, got {text!r}")
            return text
        if self.kind in ("int", "amount"):
            if not (text.isascii() and text.isdigit()):
                raise ValueError(f"expected digits, got {text!r}")
            return int(text) if self.kind == "int" else Decimal(int(text)).scaleb(-self.decimals)
        if self.kind == "date" and set(text) == {"0"}:
            return None
        try:
            parsed = datetime.strptime(text, self.fmt)
        except ValueError:
            raise ValueError(f"{text!r} is not a {self.kind} in format {self.fmt}") from None
        return parsed.date() if self.kind == "date" else parsed.time()


def num(name, start, end, default=None, **kw):
    return Field(name, start, end, "num", default, **kw)


def int_(name, start, end, default=None, **kw):
    return Field(name, start, end, "int", default, **kw)


def doc(name, start, end, default=None, **kw):
    """A CPF/CNPJ inscription number (numeric or alphanumeric CNPJ)."""
    return Field(name, start, end, "doc", default, **kw)


def alpha(name, start, end, default=None, **kw):
    return Field(name, start, end, "alpha", default, **kw)


def text(name, start, end, default=None):
    """Free text (names, addresses, messages): truncated to the field."""
    return Field(name, start, end, "alpha", default, truncate=True)


def date_(name, start, end, fmt="%d%m%Y"):
    return Field(name, start, end, "date", fmt=fmt)


def time_(name, start, end, fmt="%H%M%S"):
    return Field(name, start, end, "time", fmt=fmt)


def amount(name, start, end, decimals=2):
    return Field(name, start, end, "amount", decimals=decimals)


def const(name, start, end, value):
    """A fixed value checked on reading (numeric when ``value`` is digits)."""
    kind = "num" if value.isdigit() else "alpha"
    return Field(name, start, end, kind, value, const=True)


def filler(start, end, char=" "):
    """Reserved positions, written as ``char`` and never read back."""
    return Field(f"_{start}", start, end, "alpha", char * (end - start + 1))


class Record:
    """A fixed-width record layout: ``length`` characters, ``fields`` without
    overlaps; positions not covered by any field are written as spaces."""

    def __init__(self, name, length, fields):
        self.name = name
        self.length = length
        self.fields = tuple(sorted(fields, key=lambda f: f.start))
        self.by_name = {}
        previous = None
        for f in self.fields:
            if f.end > length:
                raise ValueError(f"{name}.{f.name} ends at {f.end}, beyond {length}")
            if previous and f.start <= previous.end:
                raise ValueError(f"{name}: {f.name} overlaps {previous.name}")
            if f.name in self.by_name:
                raise ValueError(f"{name}: field {f.name} defined twice")
            self.by_name[f.name] = f
            previous = f
        self.names = frozenset(n for n in self.by_name if not n.startswith("_"))

    def __repr__(self):
        return f"Record({self.name!r}, {self.length}, {len(self.fields)} fields)"

    def __getitem__(self, name):
        return self.by_name[name]

    def derive(self, *fields, name=None, defaults=None):
        """Copy of this layout where ``fields`` replace the base fields they
        overlap or rename, and ``defaults`` (name -> value) change field
        defaults."""
        names = {new.name for new in fields}
        kept = [
            f
            for f in self.fields
            if f.name not in names
            and not any(f.start <= new.end and new.start <= f.end for new in fields)
        ]
        merged = [*kept, *fields]
        for field_name, value in (defaults or {}).items():
            index = next(i for i, f in enumerate(merged) if f.name == field_name)
            merged[index] = replace(merged[index], default=value)
        return Record(name or self.name, self.length, merged)

    def to_line(self, values=None, line_number=None):
        """The record's line for ``values`` (name -> value); missing values take
        the field default. CnabError on unknown names or values that do not fit."""
        values = values or {}
        unknown = set(values) - self.names
        if unknown:
            raise CnabError(line_number, ", ".join(sorted(unknown)), f"not a field of {self.name}")
        chars = [" "] * self.length
        for f in self.fields:
            try:
                encoded = f.encode(None if f.const else values.get(f.name))
            except ValueError as exc:
                raise CnabError(line_number, f.name, str(exc)) from None
            chars[f.start - 1 : f.end] = encoded
        return "".join(chars)

    def from_line(self, line, line_number=None):
        """``(values, errors)`` of one line: every readable field, and a
        CnabError per malformed field."""
        values, errors = {}, []
        if len(line) != self.length:
            errors.append(
                CnabError(
                    line_number, "line", f"has {len(line)} characters, expected {self.length}"
                )
            )
            return values, errors
        for f in self.fields:
            if f.filler:
                continue
            raw = line[f.start - 1 : f.end]
            if f.const and raw != f.encode(None):
                errors.append(
                    CnabError(line_number, f.name, f"expected {f.default!r}, got {raw!r}")
                )
                continue
            try:
                values[f.name] = f.decode(raw)
            except ValueError as exc:
                errors.append(CnabError(line_number, f.name, str(exc)))
        return values, errors


# ---------------------------------------------------------------------------
# Parsed files
# ---------------------------------------------------------------------------


@dataclass
class CnabRecord:
    """One parsed line: its number, layout name (``file_header``, ``P``,
    ``detail``...) and field values."""

    line_number: int
    kind: str
    values: dict

    def __getitem__(self, name):
        return self.values[name]

    def get(self, name, default=None):
        return self.values.get(name, default)


@dataclass
class CnabFile:
    """Records read from a file, and the errors found (empty when valid)."""

    records: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    bank: str | None = None

    def of_kind(self, *kinds):
        return [r for r in self.records if r.kind in kinds]

    @property
    def header(self):
        return self.records[0] if self.records else None


def split_lines(content):
    """Lines of a CNAB file (str, or bytes decoded as Latin-1), without line
    ends, trailing empty lines or an end-of-file ``\\x1a``."""
    if isinstance(content, bytes):
        content = content.decode("latin-1")
    lines = [line.rstrip("\r") for line in content.split("\n")]
    while lines and lines[-1] in ("", "\x1a"):
        lines.pop()
    return lines


def read_lines(content, length, classify, bank=None, pad_short_lines=False):
    """Generic parse: each line read with the Record ``classify(line, number)``
    returns (or a CnabError it raises). Returns a CnabFile, errors collected.

    ``pad_short_lines`` accepts lines whose trailing blanks were trimmed (some
    transfers do that); otherwise every line must have exactly ``length``
    characters."""
    result = CnabFile(bank=bank)
    for number, line in enumerate(split_lines(content), 1):
        if pad_short_lines and len(line) < length:
            line = line.ljust(length)
        if len(line) != length:
            result.errors.append(
                CnabError(number, "line", f"has {len(line)} characters, expected {length}")
            )
            continue
        try:
            record = classify(line, number)
        except CnabError as exc:
            result.errors.append(exc)
            continue
        values, errors = record.from_line(line, number)
        result.errors.extend(errors)
        result.records.append(CnabRecord(number, record.name, values))
    return result


def finish(result, strict):
    """Sort the errors by line; raise the first one when ``strict``, otherwise
    return ``result``."""
    result.errors.sort(key=lambda error: error.line_number or 0)
    if strict and result.errors:
        raise result.errors[0]
    return result


def check_sequence(result, records, name, first_line, what="records"):
    """Append a CnabError to ``result`` for each record whose ``name`` field
    is not its position: 1 on line ``first_line``, 2 on the next line...
    Positions come from line numbers, so one bad or unreadable line does not
    shift the lines after it."""
    for record in records:
        expected = record.line_number - first_line + 1
        if record.get(name) != expected:
            result.errors.append(
                CnabError(
                    record.line_number, name, f"is {record.get(name)}, expected {expected} ({what})"
                )
            )


def check_count(result, record, name, actual, what):
    """Append a CnabError to ``result`` when ``record[name]`` (a trailer
    total) differs from ``actual``."""
    if record is not None and record.get(name) is not None and record.get(name) != actual:
        result.errors.append(
            CnabError(
                record.line_number, name, f"is {record.get(name)}, expected {actual} ({what})"
            )
        )
