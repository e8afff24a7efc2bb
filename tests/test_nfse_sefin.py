"""The Sefin client (rbm_nfse/engine/sefin.py) against the local Sefin (rbm_nfse/tests)."""

import datetime
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier

from rbm_nfse_engine import certificate as cert_engine
from rbm_nfse_engine import dps as engine
from rbm_nfse_engine.sefin import SefinClient, SefinConnection, SefinError, SefinUnavailable
from rbm_nfse_sefin_server import (
    BAD_SIGNATURE,
    CANCEL_WINDOW,
    DUPLICATE,
    FUTURE_DATE,
    SCHEMA_ERROR,
    UNKNOWN_SERVICE,
    SefinServer,
    make_pki,
    schema_errors,
)

NS = {"n": "http://www.sped.fazenda.gov.br/nfse"}
BRT = datetime.timezone(datetime.timedelta(hours=-3))
NOW = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=BRT)
ISSUER_CNPJ = "11222333000181"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("sefin-pki"), cnpj=ISSUER_CNPJ)


@pytest.fixture(scope="module")
def a1(pki):
    return cert_engine.load_pkcs12(Path(pki.client_p12).read_bytes(), pki.client_p12_password)


@pytest.fixture
def server(pki):
    sefin = SefinServer(pki=pki, now=NOW, unknown_service_codes={"990101"})
    sefin.start()
    yield sefin
    sefin.stop()


def connect(server, pki=None, **changes):
    pki = pki or server.pki
    values = dict(
        base_url=server.base_url,
        cert_file=pki.client_cert,
        key_file=pki.client_key,
        ca_file=server.pki.ca_cert,
        connect_timeout=3,
        read_timeout=3,
    )
    values.update(changes)
    return SefinConnection(**values)


@pytest.fixture
def client(server):
    return SefinClient(connect(server))


def make_dps(number=1, amount="1000.00", code="010501", ibscbs=True, issued_at=None):
    return engine.Dps(
        issuer=engine.Issuer(ISSUER_CNPJ, "1234567", "3550308", regime="normal"),
        taker=engine.Taker(
            name="Cliente Exemplo Ltda",
            cnpj="11444777000161",
            address=engine.Address("Rua Augusta", "500", "Consolação", "3550308", "01304000"),
        ),
        service=engine.Service(
            national_code=code,
            description="Assinatura do sistema",
            amount=Decimal(amount),
            nbs_code="115022000",
            iss_rate=Decimal("5.00"),
        ),
        series="1",
        number=number,
        issued_at=issued_at or NOW - datetime.timedelta(minutes=5),
        competence=datetime.date(2026, 3, 1),
        ibscbs=engine.IbsCbs("000", "000001", "030101") if ibscbs else None,
    )


def prepare(a1, **kwargs):
    return engine.prepare_dps(make_dps(**kwargs), a1)


def codes(info):
    return info.value.codes


# ---------------------------------------------------------------------------
# issuing
# ---------------------------------------------------------------------------


def test_issue(client, server, a1, pki):
    prepared = prepare(a1, amount="1000.00")
    issued = client.issue(prepared)
    assert len(issued.access_key) == 50 and issued.access_key.isdigit()
    assert issued.access_key.startswith("3550308" + "2" + "2" + ISSUER_CNPJ)
    assert issued.dps_id == prepared.id
    assert not issued.recovered
    root = etree.fromstring(issued.nfse_xml)
    assert schema_errors(root, "NFSe_v1.01.xsd") == []
    info = root.find("n:infNFSe", NS)
    assert info.get("Id") == "NFS" + issued.access_key
    # 5% of 1,000.00 = 50.00 of ISS, not withheld: the net is the whole amount
    assert info.findtext("n:valores/n:vISSQN", namespaces=NS) == "50.00"
    assert info.findtext("n:valores/n:vLiq", namespaces=NS) == "1000.00"
    # 2026: CBS 0.9% of 1,000.00 = 9.00, IBS 0.1% = 1.00
    assert info.findtext("n:IBSCBS/n:totCIBS/n:gCBS/n:vCBS", namespaces=NS) == "9.00"
    assert info.findtext("n:IBSCBS/n:totCIBS/n:gIBS/n:vIBSTot", namespaces=NS) == "1.00"
    # the DPS is inside, with our signature; the NFS-e carries the server's
    assert info.find("n:DPS/n:infDPS", NS).get("Id") == prepared.id
    # the NFS-e's own signature is its root's child (the DPS's is deeper)
    result = XMLVerifier().verify(
        issued.nfse_xml,
        x509_cert=Path(pki.server_cert).read_text(),
        expect_config=SignatureConfiguration(location="./"),
    )
    assert result.signed_xml.get("Id") == "NFS" + issued.access_key
    assert client.find_dps(prepared.id) == issued.access_key
    assert client.dps_exists(prepared.id)
    assert client.nfse_xml(issued.access_key) == issued.nfse_xml


def test_issue_without_ibscbs_gets_an_alert(client, a1):
    issued = client.issue(prepare(a1, number=2, ibscbs=False))
    assert issued.alerts and issued.alerts[0]["Codigo"] == "A0001"


def test_duplicate_returns_the_existing_nfse(client, server, a1):
    prepared = prepare(a1, number=3)
    first = client.issue(prepared)
    again = client.issue(prepared)
    assert again.recovered and again.access_key == first.access_key
    assert server.duplicates == [prepared.id]  # the server refused a second one
    assert server.refusals == [DUPLICATE]
    assert len(server.nfse) == 1


def test_unknown_dps(client):
    missing = "DPS" + "0" * 42
    assert client.find_dps(missing) is None
    assert not client.dps_exists(missing)


# ---------------------------------------------------------------------------
# rejections
# ---------------------------------------------------------------------------


def test_future_issue_date_rejected(client, a1):
    with pytest.raises(SefinError) as info:
        client.issue(prepare(a1, issued_at=NOW + datetime.timedelta(hours=1)))
    assert codes(info) == [FUTURE_DATE] and info.value.status == 400
    assert "E0008" in str(info.value)


def test_unknown_service_code_rejected(client, a1):
    with pytest.raises(SefinError) as info:
        client.issue(prepare(a1, code="990101"))
    assert codes(info) == [UNKNOWN_SERVICE]
    assert "990101" in str(info.value)


def test_schema_rejected(client, a1):
    prepared = prepare(a1)
    broken = prepared.xml.replace(b"<tpEmit>1</tpEmit>", b"<tpEmit>7</tpEmit>")
    prepared.payload = engine.pack(broken)
    with pytest.raises(SefinError) as info:
        client.issue(prepared)
    assert codes(info) == [SCHEMA_ERROR]


def test_old_version_rejected_as_schema(client, a1):
    prepared = prepare(a1)
    prepared.payload = engine.pack(prepared.xml.replace(b'versao="1.01"', b'versao="1.00"'))
    with pytest.raises(SefinError) as info:
        client.issue(prepared)
    assert codes(info) == [SCHEMA_ERROR]


def test_signature_of_another_key_rejected(client, tmp_path):
    other = make_pki(tmp_path, cnpj=ISSUER_CNPJ)
    stranger = cert_engine.load_pkcs12(
        Path(other.client_p12).read_bytes(), other.client_p12_password
    )
    with pytest.raises(SefinError) as info:
        client.issue(engine.prepare_dps(make_dps(), stranger))
    assert codes(info) == [BAD_SIGNATURE]


def test_tampered_dps_rejected(client, a1):
    prepared = prepare(a1)
    prepared.payload = engine.pack(
        prepared.xml.replace(b"<vServ>1000.00</vServ>", b"<vServ>10.00</vServ>")
    )
    with pytest.raises(SefinError) as info:
        client.issue(prepared)
    assert codes(info) == [BAD_SIGNATURE]


def test_rejection_then_fix_and_resend(client, server, a1):
    with pytest.raises(SefinError):
        client.issue(prepare(a1, number=9, code="990101"))
    issued = client.issue(prepare(a1, number=9, code="010501"))
    assert not issued.recovered and len(server.nfse) == 1


# ---------------------------------------------------------------------------
# outages and lost answers
# ---------------------------------------------------------------------------


def test_outage_then_success(client, server, a1):
    server.fail_next(times=2, status=503, path_regex=r"^/nfse$")
    prepared = prepare(a1, number=4)
    for _ in range(2):
        with pytest.raises(SefinUnavailable) as info:
            client.issue(prepared)
        assert info.value.status == 503
    issued = client.issue(prepared)
    assert not issued.recovered
    assert len(server.nfse) == 1


def test_timeout_after_issue_finds_it(client, server, a1):
    server.drop_after_issue()
    prepared = prepare(a1, number=5)
    issued = client.issue(prepared)
    assert issued.recovered
    assert len(server.nfse) == 1
    assert server.by_dps[prepared.id] == issued.access_key
    posts = [r for r in server.requests if r == ("POST", "/nfse")]
    assert len(posts) == 1  # looked up, not sent again
    assert ("GET", f"/dps/{prepared.id}") in server.requests


def test_look_up_first_on_a_retry(client, server, a1):
    prepared = prepare(a1, number=6)
    first = client.issue(prepared)
    again = client.issue(prepared, look_up_first=True)
    assert again.recovered and again.access_key == first.access_key
    assert server.duplicates == []


def test_connection_refused_is_an_outage(server, pki, a1):
    port = server.port
    server.stop()
    client = SefinClient(
        SefinConnection(
            base_url=f"https://127.0.0.1:{port}",
            cert_file=pki.client_cert,
            key_file=pki.client_key,
            ca_file=pki.ca_cert,
            connect_timeout=2,
            read_timeout=2,
        )
    )
    with pytest.raises(SefinUnavailable) as info:
        client.issue(prepare(a1))
    assert not info.value.sent


# ---------------------------------------------------------------------------
# cancellation
# ---------------------------------------------------------------------------


def cancel(client, a1, key, at):
    event = engine.Cancellation(
        access_key=key,
        author_cnpj=ISSUER_CNPJ,
        reason_code="1",
        reason="Erro na emissão da nota",
        at=at,
    )
    return client.send_event(key, engine.prepare_cancellation(event, a1))


def test_cancellation_inside_window(client, server, a1):
    issued = client.issue(prepare(a1, number=7))
    xml, _body = cancel(client, a1, issued.access_key, NOW)
    root = etree.fromstring(xml)
    assert root.find("n:infEvento", NS).get("Id") == f"EVT{issued.access_key}101101001"
    assert server.nfse[issued.access_key]["cancelled"]


def test_cancellation_outside_window(client, server, a1):
    issued = client.issue(prepare(a1, number=8))
    server.set_now(NOW + datetime.timedelta(days=31))
    with pytest.raises(SefinError) as info:
        cancel(client, a1, issued.access_key, NOW + datetime.timedelta(days=31))
    assert codes(info) == [CANCEL_WINDOW]
    assert not server.nfse[issued.access_key]["cancelled"]


# ---------------------------------------------------------------------------
# mutual TLS
# ---------------------------------------------------------------------------


def test_call_without_client_certificate_refused(server):
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{server.base_url}/dps/DPS{'0' * 42}", verify=server.pki.ca_cert, timeout=3)
    time.sleep(0.2)
    assert not server.requests  # refused at the handshake: nothing reached the API


def test_client_certificate_of_another_ca_refused(server, tmp_path, a1):
    other = make_pki(tmp_path, cnpj=ISSUER_CNPJ)
    client = SefinClient(connect(server, pki=other, ca_file=server.pki.ca_cert))
    with pytest.raises(SefinUnavailable):
        client.issue(prepare(a1))
    assert server.nfse == {}


def test_server_of_another_ca_refused(server, tmp_path, a1):
    other = make_pki(tmp_path, cnpj=ISSUER_CNPJ)
    client = SefinClient(connect(server, ca_file=other.ca_cert))
    with pytest.raises(SefinUnavailable):
        client.issue(prepare(a1))
    assert server.nfse == {}


def test_verify_passed_on_every_request(server, monkeypatch, tmp_path, a1):
    # REQUESTS_CA_BUNDLE would replace a session-level verify: ours is per request
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "nowhere.pem"))
    issued = SefinClient(connect(server)).issue(prepare(a1, number=10))
    assert len(issued.access_key) == 50
