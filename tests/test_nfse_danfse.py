"""The DANFSe reader (rbm_nfse/report/danfse.py, no Odoo import): the printed texts of an
NFS-e issued by the local Sefin Nacional (rbm_nfse/tests), and its formats (plain pytest)."""

import datetime
import importlib.util
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rbm_nfse_engine import certificate as cert_engine
from rbm_nfse_engine import dps as engine
from rbm_nfse_engine.sefin import SefinClient, SefinConnection
from rbm_nfse_sefin_server import SefinServer, make_pki

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "rbm_nfse_danfse", ROOT / "rbm_nfse" / "report" / "danfse.py"
)
danfse = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(danfse)

BRT = datetime.timezone(datetime.timedelta(hours=-3))
NOW = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=BRT)
ISSUER_CNPJ = "11222333000181"


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("danfse-pki"), cnpj=ISSUER_CNPJ)
    a1 = cert_engine.load_pkcs12(Path(pki.client_p12).read_bytes(), pki.client_p12_password)
    server = SefinServer(pki=pki, now=NOW).start()
    try:
        client = SefinClient(
            SefinConnection(
                base_url=server.base_url,
                cert_file=pki.client_cert,
                key_file=pki.client_key,
                ca_file=pki.ca_cert,
                connect_timeout=3,
                read_timeout=3,
            )
        )
        dps = engine.Dps(
            issuer=engine.Issuer(ISSUER_CNPJ, "1234567", "3550308", regime="normal"),
            taker=engine.Taker(
                name="Cliente Exemplo Ltda",
                cnpj="11444777000161",
                address=engine.Address("Rua Augusta", "500", "Consolação", "3550308", "01304000"),
            ),
            service=engine.Service(
                national_code="010501",
                description="Assinatura do sistema",
                amount=Decimal("1234.56"),
                nbs_code="115022000",
                iss_rate=Decimal("5.00"),
            ),
            series="1",
            number=41,
            issued_at=NOW - datetime.timedelta(minutes=5),
            competence=datetime.date(2026, 3, 1),
            ibscbs=engine.IbsCbs("000", "000001", "030101"),
        )
        yield client.issue(engine.prepare_dps(dps, a1))
    finally:
        server.stop()


def test_printed_texts_of_an_issued_nfse(issued):
    page = danfse.read(issued.nfse_xml)
    key = issued.access_key
    assert page["access_key"] == key
    assert page["access_key_groups"].replace(" ", "") == key
    assert page["access_key_groups"].split(" ")[0] == key[:4]
    assert page["qr_url"] == f"https://www.nfse.gov.br/ConsultaPublica/?tpc=1&chave={key}"
    assert page["dps_number"] == "41"
    assert page["dps_series"] == "1"
    assert page["competence"] == "01/03/2026"
    assert page["emitter"]["document"] == "11.222.333/0001-81"
    assert page["taker"]["document"] == "11.444.777/0001-61"
    assert page["service"]["national_code"] == "01.05.01"
    assert page["service"]["nbs"] == "1.1502.20.00"
    # 5% of R$ 1.234,56 = R$ 61,728 -> R$ 61,73, not withheld: the net is the whole amount
    assert page["municipal_tax"]["amount"] == "R$ 1.234,56"
    assert page["municipal_tax"]["iss"] == "R$ 61,73"
    assert page["totals"]["net"] == "R$ 1.234,56"
    # a test environment's NFS-e says it has no legal value; no watermark while in force
    assert page["environment"] == "2" and page["no_legal_value"]
    assert page["watermark"] == ""


def test_watermarks(issued):
    assert danfse.read(issued.nfse_xml, situation="cancelled")["watermark"] == "CANCELADA"
    assert danfse.read(issued.nfse_xml, situation="replaced")["watermark"] == "SUBSTITUÍDA"


@pytest.mark.parametrize(
    "xml", [b"", b"not xml", b"<a/>", b'<NFSe xmlns="http://www.sped.fazenda.gov.br/nfse"/>']
)
def test_unreadable_documents_refused(xml):
    with pytest.raises(danfse.DanfseError):
        danfse.read(xml)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0"), "R$ 0,00"),
        (Decimal("0.5"), "R$ 0,50"),
        (Decimal("1234.56"), "R$ 1.234,56"),
        (Decimal("1000000"), "R$ 1.000.000,00"),
    ],
)
def test_money(value, text):
    assert danfse.money(value) == text


@given(st.decimals(min_value=0, max_value=Decimal("999999999.99"), places=2))
def test_money_reads_back(value):
    text = danfse.money(value)
    assert text.startswith("R$ ")
    digits = text[3:].replace(".", "").replace(",", ".")
    assert Decimal(digits) == value
