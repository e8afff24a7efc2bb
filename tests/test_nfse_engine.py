"""The DPS engine (rbm_nfse/engine/dps.py) and the A1 certificate loader, without Odoo."""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import XMLVerifier

from rbm_nfse_engine import certificate as cert_engine
from rbm_nfse_engine import dps as engine
from rbm_nfse_sefin_server import make_pki

NS = {"n": "http://www.sped.fazenda.gov.br/nfse", "ds": "http://www.w3.org/2000/09/xmldsig#"}
BRT = datetime.timezone(datetime.timedelta(hours=-3))
ISSUER_CNPJ = "11222333000181"  # check digits 8 and 1 (módulo 11)
TAKER_CNPJ = "11444777000161"
TAKER_CPF = "52998224725"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("nfse-pki"), cnpj=ISSUER_CNPJ)


@pytest.fixture(scope="module")
def a1(pki):
    return cert_engine.load_pkcs12(Path(pki.client_p12).read_bytes(), pki.client_p12_password)


def make_dps(regime="simples", ibscbs=False, cpf=None, cnpj=TAKER_CNPJ, **service):
    values = dict(
        national_code="010501",
        description="Licenciamento de software (assinatura mensal)",
        amount=Decimal("1500.00"),
        nbs_code="115022000",
        iss_rate=Decimal("2.00") if regime != "mei" else None,
    )
    values.update(service)
    return engine.Dps(
        issuer=engine.Issuer(ISSUER_CNPJ, "1234567", "3550308", regime=regime),
        taker=engine.Taker(
            name="Cliente Exemplo Ltda",
            cpf=cpf or "",
            cnpj="" if cpf else cnpj,
            address=engine.Address(
                "Avenida Paulista", "1000", "Bela Vista", "3550308", "01310-100"
            ),
        ),
        service=engine.Service(**values),
        series="1",
        number=123,
        issued_at=datetime.datetime(2026, 3, 2, 10, 30, tzinfo=BRT),
        competence=datetime.date(2026, 3, 1),
        ibscbs=engine.IbsCbs("000", "000001", "030101") if ibscbs else None,
    )


def parse(xml):
    return etree.fromstring(xml)


# ---------------------------------------------------------------------------
# identifiers
# ---------------------------------------------------------------------------


def test_dps_id_by_hand():
    # DPS + 3550308 + 2 (CNPJ) + 11222333000181 + 00001 + 000000000000123
    expected = "DPS355030821122233300018100001000000000000123"
    assert engine.dps_id("3550308", ISSUER_CNPJ, "1", 123) == expected
    assert len(expected) == 45


def test_dps_id_of_a_cpf_issuer_is_padded():
    assert engine.dps_id("3304557", "529.982.247-25", "900", 7) == (
        "DPS330455710005299822472500900000000000000007"
    )


def test_cancellation_id_by_hand():
    key = "3" * 50
    assert engine.cancellation_id(key) == "PRE" + key + "101101"


def test_check_digits():
    assert engine.cnpj_valid("11222333000181")
    assert not engine.cnpj_valid("11222333000182")
    assert engine.cpf_valid("52998224725")
    assert not engine.cpf_valid("52998224726")
    assert not engine.cpf_valid("11111111111")


def test_datetime_in_brasilia_time():
    utc = datetime.datetime(2026, 3, 2, 13, 30, 15, 999, tzinfo=datetime.timezone.utc)
    assert engine.datetime_text(utc, "dhEmi") == "2026-03-02T10:30:15-03:00"
    with pytest.raises(engine.DpsError) as info:
        engine.datetime_text(datetime.datetime(2026, 3, 2), "dhEmi")
    assert info.value.field == "dhEmi"


# ---------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "regime, ibscbs, cpf",
    [
        ("simples", False, None),
        ("simples", True, TAKER_CPF),
        ("normal", False, TAKER_CPF),
        ("normal", True, None),
        ("mei", False, None),
    ],
)
def test_dps_built_and_valid(a1, regime, ibscbs, cpf):
    prepared = engine.prepare_dps(make_dps(regime, ibscbs, cpf=cpf), a1)
    assert engine.schema_errors(prepared.xml, "DPS_v1.01.xsd") == []
    root = parse(prepared.xml)
    assert root.get("versao") == "1.01"
    inf = root.find("n:infDPS", NS)
    assert inf.get("Id") == "DPS3550308211222333000181" + "00001" + "000000000000123"
    assert inf.findtext("n:dhEmi", namespaces=NS) == "2026-03-02T10:30:00-03:00"
    assert inf.findtext("n:valores/n:vServPrest/n:vServ", namespaces=NS) == "1500.00"
    op = {"simples": "3", "normal": "1", "mei": "2"}[regime]
    assert inf.findtext("n:prest/n:regTrib/n:opSimpNac", namespaces=NS) == op
    apportionment = inf.find("n:prest/n:regTrib/n:regApTribSN", NS)
    assert (apportionment is not None) == (regime == "simples")
    if cpf:
        assert inf.findtext("n:toma/n:CPF", namespaces=NS) == TAKER_CPF
        assert inf.find("n:toma/n:CNPJ", NS) is None
    else:
        assert inf.findtext("n:toma/n:CNPJ", namespaces=NS) == TAKER_CNPJ
    assert (inf.find("n:IBSCBS", NS) is not None) == ibscbs
    if ibscbs:
        group = inf.find("n:IBSCBS/n:valores/n:trib/n:gIBSCBS", NS)
        assert group.findtext("n:CST", namespaces=NS) == "000"
        assert group.findtext("n:cClassTrib", namespaces=NS) == "000001"
    pieces = set(prepared.timings)
    assert pieces == {"build", "validate", "sign"}
    assert engine.unpack(prepared.payload) == prepared.xml


def test_taker_address_and_zip_digits(a1):
    prepared = engine.prepare_dps(make_dps(), a1)
    end = parse(prepared.xml).find("n:infDPS/n:toma/n:end", NS)
    assert end.findtext("n:endNac/n:cMun", namespaces=NS) == "3550308"
    assert end.findtext("n:endNac/n:CEP", namespaces=NS) == "01310100"
    assert end.findtext("n:nro", namespaces=NS) == "1000"


def test_retentions_and_withheld_iss(a1):
    dps = make_dps(
        regime="normal",
        iss_rate=Decimal("5"),
        iss_withheld=True,
        retentions=engine.Retentions(irrf=Decimal("22.50"), csll=Decimal("15"), cp=Decimal(0)),
    )
    inf = parse(engine.prepare_dps(dps, a1).xml).find("n:infDPS", NS)
    trib = inf.find("n:valores/n:trib", NS)
    assert trib.findtext("n:tribMun/n:tpRetISSQN", namespaces=NS) == "2"
    assert trib.findtext("n:tribMun/n:pAliq", namespaces=NS) == "5.00"
    assert trib.findtext("n:tribFed/n:vRetIRRF", namespaces=NS) == "22.50"
    assert trib.findtext("n:tribFed/n:vRetCSLL", namespaces=NS) == "15.00"
    assert trib.find("n:tribFed/n:vRetCP", NS) is None


def test_simples_approximate_tax_percent(a1):
    dps = make_dps(approx_tax_percent_sn=Decimal("6"))
    trib = parse(engine.prepare_dps(dps, a1).xml).find("n:infDPS/n:valores/n:trib", NS)
    assert trib.findtext("n:totTrib/n:pTotTribSN", namespaces=NS) == "6.00"


# ---------------------------------------------------------------------------
# refusals name their field
# ---------------------------------------------------------------------------


def refusal(dps):
    with pytest.raises(engine.DpsError) as info:
        engine.build_dps(dps)
    return info.value


def test_alphanumeric_cnpj_taker_refused():
    error = refusal(make_dps(cnpj="12ABC34501DE35"))
    assert error.field == "toma/CNPJ"
    assert "alphanumeric" in error.message and "1.01" in error.message


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: setattr(d.taker.address, "city_ibge", ""), "toma/end/endNac/cMun"),
        (lambda d: setattr(d.taker, "address", None), "toma/end/endNac/cMun"),
        (lambda d: setattr(d.taker, "cnpj", ""), "toma/CPF"),
        (lambda d: setattr(d.taker, "cnpj", "11444777000162"), "toma/CNPJ"),
        (lambda d: setattr(d.taker, "name", " "), "toma/xNome"),
        (lambda d: setattr(d.taker.address, "zip_code", "0131"), "toma/end/endNac/CEP"),
        (lambda d: setattr(d.service, "national_code", "1.05"), "serv/cServ/cTribNac"),
        (lambda d: setattr(d.service, "national_code", "0105011"), "serv/cServ/cTribNac"),
        (lambda d: setattr(d.service, "nbs_code", "1.1502"), "serv/cServ/cNBS"),
        (lambda d: setattr(d.service, "amount", Decimal(0)), "valores/vServPrest/vServ"),
        (lambda d: setattr(d.service, "iss_rate", Decimal("5.5")), "valores/trib/tribMun/pAliq"),
        (lambda d: setattr(d.service, "iss_rate", Decimal("1")), "valores/trib/tribMun/pAliq"),
        (lambda d: setattr(d.issuer, "cnpj", "11222333000180"), "prest/CNPJ"),
        (lambda d: setattr(d.issuer, "city_ibge", "355030"), "cLocEmi"),
        (lambda d: setattr(d, "number", 0), "nDPS"),
        (lambda d: setattr(d, "series", "123456"), "serie"),
        (lambda d: setattr(d, "environment", "3"), "tpAmb"),
        (lambda d: setattr(d, "issued_at", datetime.datetime(2026, 3, 2)), "dhEmi"),
    ],
)
def test_refusals_name_the_field(change, field):
    dps = make_dps()
    change(dps)
    assert refusal(dps).field == field


def test_mei_informs_no_rate():
    assert refusal(make_dps(regime="mei", iss_rate=Decimal(2))).field == (
        "valores/trib/tribMun/pAliq"
    )


def test_withheld_iss_needs_rate():
    error = refusal(make_dps(regime="normal", iss_rate=None, iss_withheld=True))
    assert error.field == "valores/trib/tribMun/pAliq"


def test_ibscbs_needs_nbs_and_codes():
    assert refusal(make_dps(ibscbs=True, nbs_code="")).field == "serv/cServ/cNBS"
    dps = make_dps(ibscbs=True)
    dps.ibscbs.class_code = "00001"
    assert refusal(dps).field == "IBSCBS/valores/trib/gIBSCBS/cClassTrib"


def test_version_checked_by_hand():
    # the 1.01 XSD accepts versao="1.00" too (TVerNFSe): the builder refuses it itself
    _id, xml = engine.build_dps(make_dps())
    old = xml.replace(b'versao="1.01"', b'versao="1.00"')
    builder = engine.layout("1.01")
    assert engine.schema_errors(old, builder.dps_schema) == []
    with pytest.raises(engine.DpsError) as info:
        builder.validate(old, builder.dps_schema)
    assert info.value.field == "versao"


def test_unknown_layout_refused():
    with pytest.raises(engine.DpsError) as info:
        engine.build_dps(make_dps(), version="2.00")
    assert info.value.field == "versao"


# ---------------------------------------------------------------------------
# signature
# ---------------------------------------------------------------------------


def test_signature_verified_independently(a1, pki):
    prepared = engine.prepare_dps(make_dps(ibscbs=True), a1)
    root = parse(prepared.xml)
    signature = root[-1]
    assert signature.tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"
    assert signature.prefix is None  # written in the default namespace
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm")
    assert method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    c14n = signature.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm")
    assert c14n == "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    reference = signature.find("ds:SignedInfo/ds:Reference", NS)
    assert reference.get("URI") == "#" + prepared.id
    transforms = [t.get("Algorithm") for t in reference.iterfind("ds:Transforms/ds:Transform", NS)]
    assert transforms == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    ]
    cert_pem = Path(pki.client_cert).read_text()
    result = XMLVerifier().verify(prepared.xml, x509_cert=cert_pem)
    assert result.signed_xml.get("Id") == prepared.id


def test_tampered_dps_fails_verification(a1, pki):
    prepared = engine.prepare_dps(make_dps(), a1)
    tampered = prepared.xml.replace(b"<vServ>1500.00</vServ>", b"<vServ>15.00</vServ>")
    with pytest.raises(Exception):  # noqa: B017 -- signxml raises InvalidDigest
        XMLVerifier().verify(tampered, x509_cert=Path(pki.client_cert).read_text())


# ---------------------------------------------------------------------------
# cancellation event
# ---------------------------------------------------------------------------


def cancellation(**changes):
    values = dict(
        access_key="35503082" + "1" * 42,
        author_cnpj=ISSUER_CNPJ,
        reason_code="2",
        reason="Serviço não prestado ao cliente",
        at=datetime.datetime(2026, 3, 3, 9, 0, tzinfo=BRT),
    )
    values.update(changes)
    return engine.Cancellation(**values)


def test_cancellation_event_built_valid_and_signed(a1, pki):
    event = cancellation()
    prepared = engine.prepare_cancellation(event, a1)
    assert engine.schema_errors(prepared.xml, "pedRegEvento_v1.01.xsd") == []
    root = parse(prepared.xml)
    inf = root.find("n:infPedReg", NS)
    assert inf.get("Id") == "PRE" + event.access_key + "101101"
    assert inf.findtext("n:e101101/n:xDesc", namespaces=NS) == "Cancelamento de NFS-e"
    assert inf.findtext("n:e101101/n:cMotivo", namespaces=NS) == "2"
    result = XMLVerifier().verify(prepared.xml, x509_cert=Path(pki.client_cert).read_text())
    assert result.signed_xml.get("Id") == prepared.id


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"reason_code": "3"}, "e101101/cMotivo"),
        ({"reason": "curto"}, "e101101/xMotivo"),
        ({"access_key": "123"}, "chNFSe"),
        ({"author_cnpj": "11222333000180"}, "CNPJAutor"),
    ],
)
def test_cancellation_refusals(a1, changes, field):
    with pytest.raises(engine.DpsError) as info:
        engine.prepare_cancellation(cancellation(**changes), a1)
    assert info.value.field == field


# ---------------------------------------------------------------------------
# certificate
# ---------------------------------------------------------------------------


def test_pkcs12_loaded(a1, pki):
    assert a1.cnpj == ISSUER_CNPJ
    assert "RBM TESTE LTDA:11222333000181" in a1.subject
    assert a1.not_after > datetime.datetime.now(datetime.timezone.utc)
    assert not a1.expired()
    assert 360 <= a1.days_left() <= 366
    pem = a1.certificate.public_bytes(serialization.Encoding.PEM)
    assert pem == Path(pki.client_cert).read_bytes()


def test_pkcs12_wrong_password(pki):
    with pytest.raises(cert_engine.CertificateError):
        cert_engine.load_pkcs12(Path(pki.client_p12).read_bytes(), "wrong")


def test_cnpj_from_common_name_when_no_alt_name(a1):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EMPRESA X:11444777000161")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(a1.key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(a1.key, hashes.SHA256())
    )
    assert cert_engine.cnpj_of(cert) == "11444777000161"


def test_expired_certificate(tmp_path):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)
    pki = make_pki(tmp_path, client_not_after=past)
    a1 = cert_engine.load_pkcs12(Path(pki.client_p12).read_bytes(), pki.client_p12_password)
    assert a1.expired()
    assert a1.days_left() < 0
