"""Replacement of an NFS-e (DPS ``subst`` group, event e105102) without Odoo: the engine builds
and checks the group, the local Sefin issues the substitute and cancels the replaced NFS-e."""

import dataclasses
import datetime
from pathlib import Path

import pytest
from lxml import etree
from test_nfse_sefin import ISSUER_CNPJ, NOW, connect, make_dps, prepare

from rbm_nfse_engine import certificate as cert_engine
from rbm_nfse_engine import dps as engine
from rbm_nfse_engine.sefin import SefinClient, SefinError
from rbm_nfse_sefin_server import (
    CANCELLED,
    REPLACE_WINDOW,
    REPLACED_PARTY,
    REPLACED_STATE,
    REPLACED_UNKNOWN,
    SefinServer,
    make_pki,
    schema_errors,
)

NS = {"n": "http://www.sped.fazenda.gov.br/nfse"}
KEY = "3550308211222333000181000000000000126030000007911"  # 49 digits + check digit below


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("replace-pki"), cnpj=ISSUER_CNPJ)


@pytest.fixture(scope="module")
def a1(pki):
    return cert_engine.load_pkcs12(Path(pki.client_p12).read_bytes(), pki.client_p12_password)


@pytest.fixture
def server(pki):
    sefin = SefinServer(pki=pki, now=NOW)
    sefin.start()
    yield sefin
    sefin.stop()


@pytest.fixture
def client(server):
    return SefinClient(connect(server))


def replacing(dps, key, code="99", reason="Correção do valor cobrado na fatura"):
    return dataclasses.replace(dps, replaces=engine.Replacement(key, code, reason))


def test_subst_group_built_in_the_layout_order(a1):
    key = KEY + "5"
    prepared = engine.prepare_dps(replacing(make_dps(number=7), key, "01", ""), a1)
    root = etree.fromstring(prepared.xml)
    assert schema_errors(root, "DPS_v1.01.xsd") == []
    inf = root.find("n:infDPS", NS)
    subst = inf.find("n:subst", NS)
    assert subst.findtext("n:chSubstda", namespaces=NS) == key
    assert subst.findtext("n:cMotivo", namespaces=NS) == "01"
    assert subst.find("n:xMotivo", NS) is None, "xMotivo is optional and left out when empty"
    # TCInfDPS: ... cLocEmi, subst, prest ...
    tags = [etree.QName(child).localname for child in inf]
    assert tags.index("cLocEmi") + 1 == tags.index("subst") == tags.index("prest") - 1


@pytest.mark.parametrize(
    ("key", "code", "reason", "field"),
    [
        ("123", "01", "", "subst/chSubstda"),
        (KEY + "5", "06", "", "subst/cMotivo"),
        (KEY + "5", "1", "", "subst/cMotivo"),
        (KEY + "5", "99", "", "subst/xMotivo"),
        (KEY + "5", "99", "curto demais", "subst/xMotivo"),
        (KEY + "5", "02", "x" * 256, "subst/xMotivo"),
    ],
)
def test_subst_refusals_name_the_field(key, code, reason, field):
    with pytest.raises(engine.DpsError) as info:
        engine.build_dps(replacing(make_dps(), key, code, reason))
    assert info.value.field == field


def test_replacement_end_to_end(client, server, a1):
    original = client.issue(prepare(a1, number=101, amount="1000.00"))
    substitute_dps = replacing(make_dps(number=102, amount="900.00"), original.access_key)
    substitute = client.issue(engine.prepare_dps(substitute_dps, a1))
    assert substitute.access_key != original.access_key
    replaced = server.nfse[original.access_key]
    assert replaced["cancelled"] and replaced["replaced_by"] == substitute.access_key
    # the NFS-e of the substitute carries its DPS with the subst group
    nfse = etree.fromstring(substitute.nfse_xml)
    assert (
        nfse.findtext("n:infNFSe/n:DPS/n:infDPS/n:subst/n:chSubstda", namespaces=NS)
        == original.access_key
    )
    # the Sefin registered e105102 on the replaced NFS-e, read back through the API
    event = etree.fromstring(client.get_event(original.access_key, engine.REPLACE_EVENT))
    request = event.find("n:infEvento/n:pedRegEvento/n:infPedReg", NS)
    assert request.findtext("n:chNFSe", namespaces=NS) == original.access_key
    assert request.findtext("n:CNPJAutor", namespaces=NS) == ISSUER_CNPJ
    assert request.findtext("n:e105102/n:cMotivo", namespaces=NS) == "99"
    assert request.findtext("n:e105102/n:chSubstituta", namespaces=NS) == substitute.access_key
    assert request.findtext("n:e105102/n:xDesc", namespaces=NS) == (
        "Cancelamento de NFS-e por Substituição"
    )
    # replaced once: a second substitute, or cancelling it, is refused
    with pytest.raises(SefinError) as info:
        client.issue(engine.prepare_dps(replacing(make_dps(number=103), original.access_key), a1))
    assert info.value.codes == [REPLACED_STATE]
    with pytest.raises(SefinError) as info:
        cancel = engine.Cancellation(
            original.access_key, ISSUER_CNPJ, "1", "Erro na emissão da nota", NOW
        )
        client.send_event(original.access_key, engine.prepare_cancellation(cancel, a1))
    assert info.value.codes == [CANCELLED]


def test_replacement_refusals(client, server, a1):
    original = client.issue(prepare(a1, number=201))
    unknown = "1" * 50
    with pytest.raises(SefinError) as info:
        client.issue(engine.prepare_dps(replacing(make_dps(number=202), unknown), a1))
    assert info.value.codes == [REPLACED_UNKNOWN]
    other_taker = replacing(make_dps(number=203), original.access_key)
    other_taker.taker.cnpj = "11222333000181"
    with pytest.raises(SefinError) as info:
        client.issue(engine.prepare_dps(other_taker, a1))
    assert info.value.codes == [REPLACED_PARTY]
    server.set_now(NOW + datetime.timedelta(days=31))
    with pytest.raises(SefinError) as info:
        client.issue(engine.prepare_dps(replacing(make_dps(number=204), original.access_key), a1))
    assert info.value.codes == [REPLACE_WINDOW]
    assert not server.nfse[original.access_key]["cancelled"], "nothing changed"
