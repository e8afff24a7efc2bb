"""Every BR Code kind of ``rbm_dunning/engine/pix.py``: static, dynamic, Pix
Automático recurrence (journey 2) and composite (journeys 3 and 4) codes,
their field limits, and properties of the generator and the parser.

Published vectors are in ``tests/vectors/pix_brcode.json`` (sources in
``tests/vectors/README.md``). Hand-built payloads below are written field by
field with their lengths counted in the test, and sealed with Python's
``binascii.crc_hqx`` (CRC-16/CCITT-FALSE with init 0xFFFF), an implementation
independent of the engine's.
"""

import binascii
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_dunning_engine import pix

VECTORS = json.loads((Path(__file__).parent / "vectors" / "pix_brcode.json").read_text())
EVP = "123e4567-e12b-12d1-a456-426655440000"
COB = "pix.example.com/qr/v2/8b3da2f39a4140d1a91abd93113bd441"
REC = "pix.example.com/qr/v2/rec/94ed2badcbc04c15b0bb7fa353194890"


def seal(body):
    """``body`` + ``6304`` + CRC computed by the standard library."""
    body += "6304"
    return body + f"{binascii.crc_hqx(body.encode(), 0xFFFF):04X}"


def f(tag, value):
    """One field, its length written out as the manual describes."""
    return f"{tag}{len(value):02d}{value}"


GUI_ONLY = f("26", f("00", "br.gov.bcb.pix"))  # 2618 0014br.gov.bcb.pix
TAIL = "52040000" + "5303986" + "5802BR" + "5903RBM" + "6008BRASILIA" + "62070503***"


def parse_error(payload):
    with pytest.raises(pix.PixError) as exc:
        pix.parse_payload(payload)
    return exc.value


# ---------------------------------------------------------------------------
# Published vectors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_published_vector_parses(name):
    vector = VECTORS[name]
    parsed = pix.parse_payload(vector["payload"])
    assert parsed.kind == vector["kind"]
    assert parsed.point_of_initiation == vector["point_of_initiation"]
    assert parsed.location == vector["location"]
    assert parsed.recurrence_location == vector["recurrence_location"]
    assert parsed.merchant_name == vector["merchant_name"]
    assert parsed.merchant_city == vector["merchant_city"]
    assert parsed.txid == vector["txid"]
    assert parsed.amount == (vector["amount"] and Decimal(vector["amount"]))
    assert parsed.crc == vector["crc"]
    assert pix.crc16(vector["payload"][:-4]) == vector["crc"]
    assert parsed.key is None


def test_journey_2_generated_as_published():
    vector = VECTORS["api_pix_2_9_0_journey_2"]
    payload = pix.recurrence_payload(vector["recurrence_location"], "Fulano de Tal", "BRASILIA")
    assert payload == vector["payload"]
    parsed = pix.parse_payload(payload)
    assert parsed.fields["26"] == {"00": "br.gov.bcb.pix"}  # the GUI alone
    assert parsed.fields["80"] == {"00": "br.gov.bcb.pix", "25": vector["recurrence_location"]}
    assert parsed.locations == {"rec": vector["recurrence_location"]}
    assert not parsed.single_use


@pytest.mark.parametrize("name", ["api_pix_2_9_0_journey_3", "api_pix_2_9_0_journey_4"])
def test_composite_generated_as_published(name):
    vector = VECTORS[name]
    payload = pix.composite_payload(
        vector["location"], vector["recurrence_location"], "Fulano de Tal", "BRASILIA"
    )
    assert payload == vector["payload"]
    parsed = pix.parse_payload(payload)
    assert parsed.locations == {"cob": vector["location"], "rec": vector["recurrence_location"]}
    assert parsed.single_use


def test_dynamic_with_amount_and_reference_label_from_the_br_code_manual():
    parsed = pix.parse_payload(VECTORS["manual_br_code_dynamic"]["payload"])
    assert parsed.amount == Decimal("123.45")
    assert parsed.additional_data == {"05": "RP12345678-2019"}
    assert parsed.account_id == "26"


def test_composite_built_by_hand():
    # 26: 0014br.gov.bcb.pix (18) + 2554 + 54-character location = 76
    # 80: 0014br.gov.bcb.pix (18) + 2558 + 58-character location = 80
    assert (len(COB), len(REC)) == (54, 58)
    body = "".join(
        [
            "000201",
            "010212",
            "2676" + "0014br.gov.bcb.pix" + "2554" + COB,
            "52040000",
            "5303986",
            "5802BR",
            "5907EMPRESA",
            "6009SAO PAULO",
            "62070503***",
            "8080" + "0014br.gov.bcb.pix" + "2558" + REC,
        ]
    )
    assert pix.composite_payload(COB, REC, "EMPRESA", "SAO PAULO") == seal(body)


# ---------------------------------------------------------------------------
# What the parser accepts beyond the engine's own codes
# ---------------------------------------------------------------------------


def test_other_arrangements_and_templates_are_kept():
    body = (
        "000201"
        + f("26", f("00", "BR.GOV.BCB.PIX") + f("01", EVP))
        + f("27", f("00", "br.com.example.arranjo") + f("01", "1234"))
        + TAIL[:-11]
        + "610870000000"
        + f("62", f("05", "***") + f("50", f("00", "br.gov.bcb.brcode") + f("01", "1.0.0")))
        + f("64", f("00", "PT") + f("01", "JOAO"))
        + f("81", f("00", "br.com.example") + f("01", "x"))
    )
    parsed = pix.parse_payload(seal(body))
    assert parsed.kind == "static"
    assert parsed.key == EVP
    assert parsed.postal_code == "70000000"
    assert parsed.fields["27"] == {"00": "br.com.example.arranjo", "01": "1234"}
    assert parsed.fields["64"] == {"00": "PT", "01": "JOAO"}
    assert parsed.additional_data["50"] == "0017br.gov.bcb.brcode01051.0.0"
    assert parsed.recurrence_location is None  # 81 is not Pix's


def test_recurrence_template_in_another_unreserved_id_is_found():
    body = "000201" + GUI_ONLY + TAIL + f("85", f("00", "BR.GOV.BCB.PIX") + f("25", REC))
    parsed = pix.parse_payload(seal(body))
    assert parsed.kind == "recurrence"
    assert parsed.recurrence_location == REC


def test_lowercase_crc_is_accepted():
    payload = VECTORS["api_pix_2_9_0_journey_4"]["payload"]
    assert payload.endswith("A441")
    assert pix.parse_payload(payload[:-4] + "a441").crc == "A441"


def test_static_code_with_amount_and_single_use():
    body = "000201010212" + f("26", f("00", "br.gov.bcb.pix") + f("01", "+5561912345678"))
    body += "52040000530398654041.005802BR5903RBM6008BRASILIA62070503***"
    parsed = pix.parse_payload(seal(body))
    assert (parsed.kind, parsed.amount, parsed.single_use) == ("static", Decimal("1.00"), True)


# ---------------------------------------------------------------------------
# Field limits: generator
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"merchant_name": "N" * 25},
        {"merchant_city": "C" * 15},
        {"txid": "T" * 25},
        {"amount": Decimal("9999999999.99")},  # 13 characters
        {"key": "a" * 65 + "@example.com"},  # 77 characters
        # 26 = 18 (GUI) + 40 (01 + 36-char key) + 4 + 37 = 99
        {"description": "d" * 37},
    ],
)
def test_static_at_each_limit(kwargs):
    args = {"key": EVP, "merchant_name": "RBM", "merchant_city": "BRASILIA", **kwargs}
    parsed = pix.parse_payload(pix.static_payload(**args))
    for name, value in kwargs.items():
        assert getattr(parsed, name) == value


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        ({"merchant_name": "N" * 26}, "merchant_name", "at most 25 characters, got 26"),
        ({"merchant_city": "C" * 16}, "merchant_city", "at most 15 characters, got 16"),
        ({"txid": "T" * 26}, "txid", "1 to 25 letters and digits"),
        ({"txid": ""}, "txid", "1 to 25 letters and digits"),
        ({"amount": Decimal("10000000000.00")}, "amount", "longer than 13"),
        ({"key": "a" * 66 + "@example.com"}, "key", "is not a Pix key"),
        ({"description": "d" * 38}, "26", "at most 99"),
    ],
)
def test_static_beyond_each_limit(kwargs, field, message):
    args = {"key": EVP, "merchant_name": "RBM", "merchant_city": "BRASILIA", **kwargs}
    with pytest.raises(pix.PixError, match=message) as exc:
        pix.static_payload(**args)
    assert exc.value.field == field


@pytest.mark.parametrize("builder", ["dynamic", "recurrence", "composite_cob", "composite_rec"])
def test_location_limit_is_77(builder):
    def build(location):
        if builder == "dynamic":
            return pix.dynamic_payload(location, "RBM", "BRASILIA")
        if builder == "recurrence":
            return pix.recurrence_payload(location, "RBM", "BRASILIA")
        if builder == "composite_cob":
            return pix.composite_payload(location, REC, "RBM", "BRASILIA")
        return pix.composite_payload(COB, location, "RBM", "BRASILIA")

    longest = "pix.example.com/" + "x" * 61
    assert len(longest) == 77
    assert longest in pix.parse_payload(build(longest)).locations.values()
    with pytest.raises(pix.PixError, match="at most 77 characters") as exc:
        build(longest + "x")
    assert exc.value.field in ("location", "recurrence_location")


@pytest.mark.parametrize(
    "location, message",
    [
        ("https://pix.example.com/rec/1", "without scheme"),
        ("", "is required"),
        (None, "is required"),
        ("pix.example.com/rec/ 1", "without spaces"),
        ("pix.example.com/reç/1", "printable ASCII"),
    ],
)
def test_recurrence_bad_location(location, message):
    with pytest.raises(pix.PixError, match=message) as exc:
        pix.recurrence_payload(location, "RBM", "BRASILIA")
    assert exc.value.field == "recurrence_location"
    with pytest.raises(pix.PixError, match=message) as exc:
        pix.composite_payload(COB, location, "RBM", "BRASILIA")
    assert exc.value.field == "recurrence_location"


@pytest.mark.parametrize("tag", ["1", "123", "ab", 26, ""])
def test_tlv_id_has_two_digits(tag):
    with pytest.raises(pix.PixError, match="two digits"):
        pix.tlv(tag, "x")


def test_tlv_value_limits():
    assert pix.tlv("26", "x" * 99) == "2699" + "x" * 99
    with pytest.raises(pix.PixError, match="at most 99"):
        pix.tlv("26", "x" * 100)
    with pytest.raises(pix.PixError, match="must not be empty"):
        pix.tlv("26", "")


# ---------------------------------------------------------------------------
# Field limits and refusals: parser
# ---------------------------------------------------------------------------

STATIC_ACCOUNT = f("26", f("00", "br.gov.bcb.pix") + f("01", EVP))
RECURRENCE = f("80", f("00", "br.gov.bcb.pix") + f("25", REC))


def test_parser_accepts_every_limit():
    longest = "pix.example.com/" + "x" * 61  # 77: template 26 is exactly 99
    body = (
        "000201010212"
        + f("26", f("00", "br.gov.bcb.pix") + f("25", longest))
        + "52040000530398654139999999999.995802BR"
        + f("59", "N" * 25)
        + f("60", "C" * 15)
        + f("62", f("05", "T" * 25))
    )
    assert len(f("26", f("00", "br.gov.bcb.pix") + f("25", longest))) == 4 + 99
    parsed = pix.parse_payload(seal(body))
    assert parsed.location == longest
    assert parsed.amount == Decimal("9999999999.99")
    assert (len(parsed.merchant_name), len(parsed.merchant_city), len(parsed.txid)) == (25, 15, 25)


@pytest.mark.parametrize(
    "body, field, message",
    [
        # name, city, txid one character too long
        (
            "000201" + STATIC_ACCOUNT + TAIL.replace("5903RBM", f("59", "N" * 26)),
            "59",
            "at most 25",
        ),
        (
            "000201" + STATIC_ACCOUNT + TAIL.replace("6008BRASILIA", f("60", "C" * 16)),
            "60",
            "at most 15",
        ),
        (
            "000201" + STATIC_ACCOUNT + TAIL.replace("62070503***", f("62", f("05", "T" * 26))),
            "62",
            "1 to 25 letters and digits",
        ),
        (
            "000201"
            + GUI_ONLY
            + TAIL.replace("62070503***", f("62", f("05", "T" * 26)))
            + RECURRENCE,
            "62",
            "at most 25 characters",
        ),
        # amount: 14 characters, comma, sign, exponent, zero, three decimals
        ("000201" + STATIC_ACCOUNT + "541412345678901.00" + TAIL, "54", "digits with at most"),
        ("000201" + STATIC_ACCOUNT + "54041,00" + TAIL, "54", "digits with at most"),
        ("000201" + STATIC_ACCOUNT + "5405-1.00" + TAIL, "54", "digits with at most"),
        ("000201" + STATIC_ACCOUNT + "54031e5" + TAIL, "54", "digits with at most"),
        ("000201" + STATIC_ACCOUNT + "54051.001" + TAIL, "54", "digits with at most"),
        ("000201" + STATIC_ACCOUNT + "54040.00" + TAIL, "54", "must be positive"),
        # point of initiation and category
        ("000201010213" + STATIC_ACCOUNT + TAIL, "01", "'11' or '12'"),
        ("000201" + STATIC_ACCOUNT + TAIL.replace("52040000", "520400A0"), "52", "four digits"),
        # an empty field
        ("000201" + STATIC_ACCOUNT + TAIL.replace("5903RBM", "5900"), "59", "is empty"),
        # key, location and recurrence combinations
        (
            "000201" + STATIC_ACCOUNT + TAIL + RECURRENCE,
            "80",
            "goes with a location, not a key",
        ),
        (
            "000201" + f("26", f("00", "br.gov.bcb.pix") + f("01", "a@b.co") + f("25", COB)) + TAIL,
            "26",
            "both a key (01) and a location (25)",
        ),
        ("000201" + GUI_ONLY + TAIL, "26", "neither a key"),
        (
            "000201" + GUI_ONLY + TAIL + f("80", f("00", "br.gov.bcb.pix")),
            "80",
            "has no location",
        ),
        (
            "000201" + GUI_ONLY + TAIL + f("80", f("00", "br.gov.bcb.pix") + f("25", "https://x")),
            "80",
            "without scheme",
        ),
        (
            "000201" + f("26", f("00", "br.gov.bcb.pix") + f("25", "a b")) + TAIL,
            "26",
            "without spaces",
        ),
        (
            "000201" + STATIC_ACCOUNT + f("27", f("00", "br.gov.bcb.pix") + f("01", EVP)) + TAIL,
            "27",
            "one Pix merchant account",
        ),
        ("000201" + GUI_ONLY + TAIL + RECURRENCE + RECURRENCE.replace("80", "81", 1), "81", "one"),
        (
            "000201" + f("26", f("00", "br.gov.bcb.pix") + f("01", "390.533.447-05")) + TAIL,
            "26",
            "is not a Pix key",
        ),
        # structure
        ("010212000201" + STATIC_ACCOUNT + TAIL, "00", "starts with payload format"),
        ("000201" + STATIC_ACCOUNT + TAIL + "9912abcd", "63", "CRC must be the last field"),
        ("000201" + STATIC_ACCOUNT + STATIC_ACCOUNT + TAIL, "26", "appears twice"),
        (
            "000201" + f("26", f("00", "br.gov.bcb.pix") + "0199x") + TAIL,
            "26",
            "subfield 01 declares 99",
        ),
        ("000201" + STATIC_ACCOUNT + TAIL.replace("62070503***", "6200"), "62", "is empty"),
        ("000201" + STATIC_ACCOUNT + TAIL.replace("62070503***", "62070103***"), "62", "05"),
        ("00٠201" + STATIC_ACCOUNT + TAIL, "payload", "malformed field header"),
    ],
)
def test_parser_refuses(body, field, message):
    error = parse_error(seal(body))
    assert error.field == field
    assert message in error.message


def test_parser_refuses_more_than_512_characters():
    def with_templates(count):
        # each unreserved template of another GUI: 4 + 18 + 64 = 86 characters
        extra = "".join(
            f(str(tag), f("00", "br.com.example") + f("01", "y" * 60))
            for tag in range(81, 81 + count)
        )
        return seal("000201" + GUI_ONLY + TAIL + RECURRENCE + extra)

    # 6 + 22 + 51 + 84 + 8 = 171 characters without the extra templates
    assert (len(with_templates(3)), len(with_templates(4))) == (171 + 258, 171 + 344)
    assert pix.parse_payload(with_templates(3)).kind == "recurrence"
    error = parse_error(with_templates(4))
    assert (error.field, error.message) == ("payload", "has at most 512 characters, got 515")


@pytest.mark.parametrize("payload", [None, b"000201", 12345, "", "6304", "\ud8006304ABCD"])
def test_parser_refuses_what_is_not_a_payload(payload):
    assert parse_error(payload).field in ("63", "payload")


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

texts = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=15
).filter(lambda s: s.strip())
names = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=25
).filter(lambda s: s.strip())
locations = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=77
).filter(lambda s: "://" not in s)
amounts = st.integers(1, 10**12 - 1).map(lambda c: Decimal(c).scaleb(-2))
txids = st.text(alphabet="ABCXYZabcxyz0123456789", min_size=1, max_size=25)
keys = st.sampled_from(
    ["39053344705", "16727230000197", "12ABC34501DE35", "+5561912345678", "a@b.co", EVP]
)

static_codes = st.builds(
    lambda key, name, city, amount, txid, description: (
        pix.static_payload(key, name, city, amount=amount, txid=txid, description=description),
        dict(
            key=key,
            amount=amount,
            txid=txid or "***",
            description=description and " ".join(description.split()),
        ),
    ),
    keys,
    names,
    texts,
    st.one_of(st.none(), amounts),
    st.one_of(st.none(), txids),
    st.one_of(st.none(), texts),
)
dynamic_codes = st.builds(
    lambda location, name, city: (
        pix.dynamic_payload(location, name, city),
        dict(location=location, recurrence_location=None),
    ),
    locations,
    names,
    texts,
)
recurrence_codes = st.builds(
    lambda rec, name, city: (
        pix.recurrence_payload(rec, name, city),
        dict(location=None, recurrence_location=rec),
    ),
    locations,
    names,
    texts,
)
composite_codes = st.builds(
    lambda cob, rec, name, city: (
        pix.composite_payload(cob, rec, name, city),
        dict(location=cob, recurrence_location=rec),
    ),
    locations,
    locations,
    names,
    texts,
)
KINDS = {
    "static": static_codes,
    "dynamic": dynamic_codes,
    "recurrence": recurrence_codes,
    "composite": composite_codes,
}
any_code = st.one_of(*KINDS.values())


def rebuild(parsed):
    """The generator call that the parsed code says produced it."""
    name, city = parsed.merchant_name, parsed.merchant_city
    if parsed.kind == "static":
        return pix.static_payload(
            parsed.key,
            name,
            city,
            amount=parsed.amount,
            txid=parsed.txid,
            description=parsed.description,
        )
    if parsed.kind == "dynamic":
        return pix.dynamic_payload(parsed.location, name, city)
    if parsed.kind == "recurrence":
        return pix.recurrence_payload(parsed.recurrence_location, name, city)
    return pix.composite_payload(parsed.location, parsed.recurrence_location, name, city)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_round_trip(kind):
    @given(KINDS[kind])
    def check(code):
        payload, expected = code
        parsed = pix.parse_payload(payload)
        assert parsed.kind == kind
        for attribute, value in expected.items():
            assert getattr(parsed, attribute) == value
        assert parsed.crc == f"{binascii.crc_hqx(payload[:-4].encode(), 0xFFFF):04X}"
        assert rebuild(parsed) == payload

    check()


@given(any_code, st.data())
def test_any_single_changed_character_is_refused(code, data):
    payload = code[0]
    position = data.draw(st.integers(0, len(payload) - 1))
    original = payload[position]
    # one printable ASCII character changes one byte, a burst CRC-16 always
    # detects; the CRC is compared case-insensitively: a case change there is
    # no change
    replacement = data.draw(
        st.characters(min_codepoint=32, max_codepoint=126).filter(
            lambda c: c.upper() != original.upper()
        )
    )
    changed = payload[:position] + replacement + payload[position + 1 :]
    with pytest.raises(pix.PixError):
        pix.parse_payload(changed)


@given(st.text())
def test_arbitrary_text_only_raises_pix_error(text):
    for candidate in (text, text + "6304ABCD", pix.with_crc(text), pix.with_crc("000201" + text)):
        try:
            pix.parse_payload(candidate)
        except pix.PixError:
            pass


tlv_fields = st.lists(
    st.tuples(
        st.sampled_from(
            ["00", "01", "25", "26", "27", "52", "53", "54", "58", "59", "60", "62", "63", "80"]
        ),
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["01", "12", "986", "BR", "0000", "***", "1.00", "br.gov.bcb.pix"]),
        ),
    ),
    max_size=12,
)


@given(tlv_fields)
def test_arbitrary_fields_only_raise_pix_error(fields):
    body = "".join(f"{tag}{len(value):02d}{value}" for tag, value in fields)
    try:
        pix.parse_payload(pix.with_crc(body))
    except pix.PixError:
        pass


@given(any_code, st.data())
def test_changed_body_with_a_new_crc_only_raises_pix_error(code, data):
    body = code[0][:-8]
    start = data.draw(st.integers(0, len(body)))
    end = data.draw(st.integers(start, min(len(body), start + 6)))
    body = body[:start] + data.draw(st.text(max_size=6)) + body[end:]
    try:
        parsed = pix.parse_payload(pix.with_crc(body))
    except pix.PixError:
        return
    assert parsed.kind in KINDS


@given(st.binary(max_size=200))
def test_crc_matches_the_standard_library(data):
    assert pix.crc16(data) == f"{binascii.crc_hqx(data, 0xFFFF):04X}"
