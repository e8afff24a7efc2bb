"""The Pix API client (rbm_pix engine) against the local PSP (rbm_pix/tests/psp_server.py)."""

import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from rbm_pix_engine import certificates
from rbm_pix_engine.pix_api import (
    PixApiError,
    PixClient,
    PixConnection,
    PixConnectionError,
    PixRequestError,
    format_amount,
    make_txid,
)
from rbm_pix_engine.token_cache import CachedTokenClient, TokenCache
from rbm_pix_psp_server import SPEC_FILE, PspServer, SpecValidator, load_spec, make_pki

TODAY = datetime.date(2025, 7, 1)  # a Tuesday
DAY = datetime.timedelta(days=1)
ACCOUNT = {"conta": "123456", "tipoConta": "CORRENTE", "agencia": "0001"}


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("other-pki"))


@pytest.fixture
def server(pki):
    psp = PspServer(pki=pki, today=TODAY, notification_headers={"X-Webhook-Secret": "s3"})
    psp.start()
    yield psp
    psp.stop()


def connect(server, pki=None, **overrides):
    pki = pki or server.pki
    values = dict(
        base_url=server.base_url,
        token_url=server.token_url,
        client_id="rbm-client",
        client_secret="rbm-secret",
        cert_file=pki.client_cert,
        key_file=pki.client_key,
        ca_file=server.pki.ca_cert,
        backoff=0.01,
        connect_timeout=3,
        read_timeout=5,
    )
    values.update(overrides)
    return PixConnection(**values)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(server, sleeps):
    return PixClient(connect(server), sleep=sleeps.append)


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        self.server.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def receiver():
    httpd = HTTPServer(("127.0.0.1", 0), _Receiver)
    httpd.received = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/psp"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def rec_body(start=TODAY + 5 * DAY, policy="PERMITE_3R_7D", **extra):
    body = {
        "vinculo": {
            "contrato": "CT-0001",
            "objeto": "Plano mensal",
            "devedor": {"cpf": "12345678909", "nome": "Maria Souza"},
        },
        "calendario": {"dataInicial": start, "periodicidade": "MENSAL"},
        "valor": {"valorRec": "99.90"},
        "politicaRetentativa": policy,
    }
    body.update(extra)
    return body


def cob_body(server, amount):
    return {
        "calendario": {"expiracao": 3600},
        "valor": {"original": amount},
        "chave": server.pix_key,
    }


def cobr_body(id_rec, due, amount="99.90"):
    return {
        "idRec": id_rec,
        "calendario": {"dataDeVencimento": due},
        "valor": {"original": amount},
        "ajusteDiaUtil": True,
        "recebedor": ACCOUNT,
        "devedor": {"email": "maria@example.com", "cep": "01310100"},
    }


def handshake_refused(server, timeout=5.0):
    """The server's thread records the refused handshake a moment after the client sees it."""
    deadline = time.monotonic() + timeout
    while not server.handshake_failures and time.monotonic() < deadline:
        time.sleep(0.02)
    return server.handshake_failures


def api_calls(server):
    return [method for method, path in server.requests if path.startswith("/api/")]


def approved_rec(client, server, **kwargs):
    rec = client.post_rec(rec_body(**kwargs))
    server.approve_rec(rec["idRec"])
    return rec["idRec"]


# ---------------------------------------------------------------------------
# helpers and specification copy
# ---------------------------------------------------------------------------


def test_make_txid_follows_the_schema():
    txids = {make_txid() for _ in range(200)}
    assert len(txids) == 200
    assert all(len(t) == 35 and t.isalnum() and t.isascii() for t in txids)
    assert make_txid("INV42", length=26).startswith("INV42")
    with pytest.raises(ValueError):
        make_txid(length=25)
    with pytest.raises(ValueError):
        make_txid("INV-42")


def test_format_amount():
    assert format_amount("10") == "10.00"
    assert format_amount(1234.5) == "1234.50"
    with pytest.raises(ValueError):
        format_amount("abc")
    with pytest.raises(ValueError):
        format_amount(10**11)


def test_spec_json_is_the_yaml():
    yaml = pytest.importorskip("yaml")
    source = yaml.safe_load(SPEC_FILE.with_suffix(".yaml").read_text(encoding="utf-8"))
    assert json.loads(json.dumps(source, default=str)) == json.loads(SPEC_FILE.read_text())
    assert source["info"]["version"] == "2.9.0"


def test_error_names_the_field():
    error = PixApiError(
        400,
        type="https://pix.bcb.gov.br/api/v2/error/CobROperacaoInvalida",
        title="Cobrança inválida.",
        detail="A requisição não respeita o schema.",
        violacoes=[{"razao": "formato", "propriedade": "cobr.valor.original", "valor": "1"}],
    )
    assert error.error_name == "CobROperacaoInvalida"
    assert "cobr.valor.original" in str(error)
    assert error.fields == ["cobr.valor.original"]


# ---------------------------------------------------------------------------
# OAuth2 and mutual TLS
# ---------------------------------------------------------------------------


def test_token_is_cached(client, server):
    client.put_webhookrec("https://erp.example.com/pix")
    client.get_webhookrec()
    client.get_webhookrec()
    assert server.token_requests == 1


def test_token_fetched_again_when_its_lifetime_ends(pki, sleeps):
    with PspServer(pki=pki, today=TODAY, token_lifetime=120) as psp:
        now = [1000.0]
        client = PixClient(connect(psp), sleep=sleeps.append, clock=lambda: now[0])
        client.put_webhookrec("https://erp.example.com/pix")
        now[0] += 59  # margin: min(60 s, half the lifetime) -> renewed after 60 s
        client.get_webhookrec()
        assert psp.token_requests == 1
        now[0] += 2
        client.get_webhookrec()
        assert psp.token_requests == 2


def test_expired_token_is_replaced_once_on_401(client, server):
    client.put_webhookrec("https://erp.example.com/pix")
    server.expire_tokens()
    assert client.get_webhookrec()["webhookUrl"] == "https://erp.example.com/pix"
    assert server.token_requests == 2


def test_wrong_client_secret(server):
    client = PixClient(connect(server, client_secret="nope"))
    with pytest.raises(PixApiError) as error:
        client.get_webhookrec()
    assert error.value.status == 401
    assert error.value.type == "invalid_client"


def test_request_without_client_certificate_is_refused_at_handshake(server):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(
            server.token_url,
            data={"grant_type": "client_credentials"},
            auth=("rbm-client", "rbm-secret"),
            verify=server.pki.ca_cert,
            timeout=5,
        )
    assert handshake_refused(server)
    assert server.token_requests == 0


def test_client_certificate_of_another_ca_is_refused(server, other_pki):
    client = PixClient(connect(server, pki=other_pki, retries=0))
    with pytest.raises(PixConnectionError):
        client.get_webhookrec()
    assert handshake_refused(server)
    assert server.token_requests == 0


def test_wrong_ca_refused_even_with_requests_ca_bundle(server, other_pki, monkeypatch):
    # the environment points at the right CA; the connection's own (wrong) CA must win
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.pki.ca_cert)
    monkeypatch.setenv("CURL_CA_BUNDLE", server.pki.ca_cert)
    client = PixClient(connect(server, ca_file=other_pki.ca_cert))
    with pytest.raises(PixConnectionError, match="TLS"):
        client.get_webhookrec()
    assert server.requests == []


def test_right_ca_wins_over_a_wrong_requests_ca_bundle(server, other_pki, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_pki.ca_cert)
    client = PixClient(connect(server))
    client.put_webhookrec("https://erp.example.com/pix")
    assert server.webhooks


# ---------------------------------------------------------------------------
# checks before sending; schema validation by the PSP
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda c: c.get_cob("short"), "txid"),
        (lambda c: c.get_rec("RX123"), "idRec"),
        (
            lambda c: c.put_cob(make_txid(), {"valor": {"original": "10"}, "chave": "k"}),
            "cob.valor.original",
        ),
        (lambda c: c.post_rec(rec_body(policy="SEMPRE")), "rec.politicaRetentativa"),
        (
            lambda c: c.post_rec(
                dict(rec_body(), calendario={"dataInicial": "2025-07-10", "periodicidade": "X"})
            ),
            "rec.calendario.periodicidade",
        ),
        (
            lambda c: c.post_rec(
                dict(rec_body(), calendario={"dataInicial": "2025-02-30", "periodicidade": "ANUAL"})
            ),
            "rec.calendario.dataInicial",
        ),
        (
            lambda c: c.post_rec(
                rec_body(valor={"valorRec": "10.00", "valorMinimoRecebedor": "5.00"})
            ),
            "rec.valor",
        ),
        (
            lambda c: c.put_cobr(
                make_txid(),
                dict(cobr_body("RR1234567820250701abcdefghijk", "2025-07-08"), ajusteDiaUtil=None),
            ),
            "cobr.ajusteDiaUtil",
        ),
        (
            lambda c: c.put_cobr(
                make_txid(),
                dict(
                    cobr_body("RR1234567820250701abcdefghijk", "2025-07-08"),
                    devedor={"cpf": "12345678909"},
                ),
            ),
            "cobr.devedor.cpf",
        ),
        (lambda c: c.retry_cobr(make_txid(), "amanhã"), "retentativa.data"),
        (
            lambda c: c.put_devolucao("E" * 32, "D1", {"valor": "1.0"}),
            "devolucao.valor",
        ),
    ],
)
def test_refused_before_sending(client, server, call, field):
    with pytest.raises(PixRequestError) as error:
        call(client)
    assert field in error.value.fields
    assert field in str(error.value)
    assert server.requests == []


def test_psp_validates_bodies_against_the_specification(client):
    body = rec_body()
    body["calendario"]["periodicidade"] = "QUINZENAL"
    body["vinculo"]["devedor"]["cpf"] = "123"
    with pytest.raises(PixApiError) as error:
        client.request("POST", "/rec", json.loads(json.dumps(body, default=str)))
    assert error.value.status == 400
    assert error.value.error_name == "RecOperacaoInvalida"
    assert "rec.calendario.periodicidade" in error.value.fields
    assert "rec.vinculo.devedor.cpf" in error.value.fields


def test_server_answers_follow_the_response_schemas(client, server):
    validator = SpecValidator(load_spec())
    txid = make_txid()
    client.put_cob(txid, cob_body(server, "10.00"))
    assert validator.check_schema("CobCompleta", client.get_cob(txid)) == []
    id_rec = approved_rec(client, server)
    assert validator.check_schema("RecCompleta", client.get_rec(id_rec)) == []
    cobr_txid = make_txid()
    client.put_cobr(cobr_txid, cobr_body(id_rec, TODAY + 7 * DAY))
    e2e = server.pay_cobr(cobr_txid)
    assert validator.check_schema("CobRCompleta", client.get_cobr(cobr_txid)) == []
    refund = client.put_devolucao(e2e, "D1", {"valor": "9.90"})
    assert validator.check_schema("Devolucao", refund) == []


# ---------------------------------------------------------------------------
# cob and cobv
# ---------------------------------------------------------------------------


def test_cob_put_patch_get_and_removal(client, server):
    txid = make_txid()
    created = client.put_cob(
        txid,
        {
            "calendario": {"expiracao": 3600},
            "devedor": {"cnpj": "12ABC34501DE35", "nome": "Cliente SA"},
            "valor": {"original": "150.00"},
            "chave": server.pix_key,
            "solicitacaoPagador": "Fatura 42",
        },
    )
    assert created["status"] == "ATIVA" and created["revisao"] == 0
    assert created["pixCopiaECola"].startswith("000201")
    changed = client.patch_cob(txid, {"valor": {"original": "140.00"}})
    assert changed["revisao"] == 1 and changed["valor"]["original"] == "140.00"
    assert client.get_cob(txid, revisao=0)["valor"]["original"] == "150.00"
    removed = client.patch_cob(txid, {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"})
    assert removed["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    with pytest.raises(PixApiError) as error:
        client.patch_cob(txid, {"valor": {"original": "1.00"}})
    assert error.value.error_name == "CobOperacaoInvalida"


def test_cob_errors(client, server):
    with pytest.raises(PixApiError) as error:
        client.get_cob(make_txid())
    assert (error.value.status, error.value.error_name) == (404, "CobNaoEncontrado")
    with pytest.raises(PixApiError) as error:
        client.put_cob(make_txid(), dict(cob_body(server, "1.00"), chave="outra@chave"))
    assert "cob.chave" in error.value.fields
    with pytest.raises(PixRequestError):  # refused locally ...
        client.patch_cob(make_txid(), {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR", "valor": {}})
    txid = make_txid()
    client.put_cob(txid, cob_body(server, "1.00"))
    with pytest.raises(PixApiError) as error:  # ... and by the PSP
        client.request(
            "PATCH",
            f"/cob/{txid}",
            {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR", "solicitacaoPagador": "x"},
        )
    assert error.value.error_name == "CobOperacaoInvalida"


def test_cob_list_between_two_moments(client, server):
    """``GET /cob?inicio&fim``: a harmless read, what a connection test sends."""
    txid = make_txid()
    client.put_cob(txid, cob_body(server, "1.00"))
    day = server.today.isoformat()
    found = client.request(
        "GET",
        "/cob",
        params={
            "inicio": f"{day}T00:00:00Z",
            "fim": f"{day}T23:59:59Z",
            "paginacao.itensPorPagina": 1,
        },
    )
    assert [cob["txid"] for cob in found["cobs"]] == [txid]
    assert found["parametros"]["paginacao"]["quantidadeTotalDeItens"] == 1
    assert not SpecValidator(load_spec()).check_schema("ParametrosConsultaCob", found["parametros"])
    with pytest.raises(PixApiError) as error:
        client.request("GET", "/cob", params={"inicio": "ontem", "fim": f"{day}T00:00:00Z"})
    assert error.value.fields == ["inicio"]


def test_cobv_with_fine_interest_and_discount(client, server, receiver):
    client.put_webhook(server.pix_key, receiver.url)
    txid = make_txid()
    body = {
        "calendario": {"dataDeVencimento": TODAY + 10 * DAY, "validadeAposVencimento": 30},
        "devedor": {"cpf": "12345678909", "nome": "Maria Souza", "cep": "01310100"},
        "valor": {
            "original": "200.00",
            "multa": {"modalidade": 2, "valorPerc": "2.00"},
            "juros": {"modalidade": 2, "valorPerc": "1.00"},
            "desconto": {
                "modalidade": 1,
                "descontoDataFixa": [{"data": TODAY + 5 * DAY, "valorPerc": "10.00"}],
            },
        },
        "chave": server.pix_key,
    }
    created = client.put_cobv(txid, body)
    assert created["status"] == "ATIVA"
    assert created["calendario"]["validadeAposVencimento"] == 30
    client.patch_cobv(txid, {"valor": {"original": "210.00"}})
    assert client.get_cobv(txid)["revisao"] == 1
    e2e = server.pay_cobv(txid)
    assert client.get_cobv(txid)["status"] == "CONCLUIDA"
    server.wait_notifications()
    path, headers, notice = receiver.received[-1]
    assert path == "/hooks/psp/pix"
    assert headers["X-Webhook-Secret"] == "s3"
    assert notice["pix"][0]["endToEndId"] == e2e and notice["pix"][0]["txid"] == txid


def test_cobv_due_date_in_the_past(client, server):
    with pytest.raises(PixApiError) as error:
        client.put_cobv(
            make_txid(),
            {
                "calendario": {"dataDeVencimento": TODAY - DAY},
                "devedor": {"cpf": "12345678909", "nome": "Maria"},
                "valor": {"original": "10.00"},
                "chave": server.pix_key,
            },
        )
    assert error.value.error_name == "CobVOperacaoInvalida"
    assert "cobv.calendario.dataDeVencimento" in str(error.value)


# ---------------------------------------------------------------------------
# rec: the four journeys, rejections and cancellations
# ---------------------------------------------------------------------------


def test_journey_2_qr_with_the_recurrence(client, server, receiver):
    client.put_webhookrec(receiver.url)
    loc = client.post_locrec()
    rec = client.post_rec(rec_body(loc=loc["id"]))
    assert rec["status"] == "CRIADA"
    assert rec["idRec"].startswith("RR" + server.ispb + "20250701")
    assert client.get_locrec(loc["id"])["idRec"] == rec["idRec"]
    qr = client.get_rec(rec["idRec"])["dadosQR"]
    assert qr["jornada"] == "JORNADA_2"
    assert "80" in qr["pixCopiaECola"] and loc["location"] in qr["pixCopiaECola"]
    server.approve_rec(rec["idRec"])
    got = client.get_rec(rec["idRec"])
    assert got["status"] == "APROVADA"
    assert got["ativacao"]["tipoJornada"] == "JORNADA_2"
    assert got["pagador"]["cpf"] == "12345678909"
    server.wait_notifications()
    assert [(p, b["recs"][0]["status"]) for p, _h, b in receiver.received] == [
        ("/hooks/psp/rec", "APROVADA")
    ]


def test_journey_3_composite_qr_first_payment_now(client, server):
    txid = make_txid()
    cob = client.put_cob(txid, cob_body(server, "99.90"))
    loc = client.post_locrec()
    rec = client.post_rec(
        rec_body(loc=loc["id"], ativacao={"dadosJornada": {"txid": txid}}, policy="NAO_PERMITE")
    )
    assert rec["idRec"][1] == "N"
    qr = client.get_rec(rec["idRec"], txid=txid)["dadosQR"]
    assert qr["jornada"] == "JORNADA_3"
    assert cob["location"] in qr["pixCopiaECola"] and loc["location"] in qr["pixCopiaECola"]
    server.pay_cob(txid)
    got = client.get_rec(rec["idRec"])
    assert (got["status"], got["ativacao"]["tipoJornada"]) == ("APROVADA", "JORNADA_3")
    with pytest.raises(PixApiError) as error:
        client.get_rec(rec["idRec"], txid=make_txid())
    assert error.value.error_name == "RecConsultaInvalida"


def test_journey_4_due_date_charge_offering_adherence(client, server):
    txid = make_txid()
    client.put_cobv(
        txid,
        {
            "calendario": {"dataDeVencimento": TODAY + 3 * DAY},
            "devedor": {"cpf": "12345678909", "nome": "Maria"},
            "valor": {"original": "99.90"},
            "chave": server.pix_key,
        },
    )
    rec = client.post_rec(rec_body(ativacao={"dadosJornada": {"txid": txid}}))
    assert rec["ativacao"]["tipoJornada"] == "JORNADA_4"
    assert client.get_rec(rec["idRec"], txid=txid)["dadosQR"]["jornada"] == "JORNADA_4"
    server.pay_cobv(txid)
    assert client.get_rec(rec["idRec"])["status"] == "APROVADA"


def test_journey_1_request_pushed_to_the_payer_bank(client, server):
    rec = client.post_rec(rec_body())
    request = {
        "idRec": rec["idRec"],
        "calendario": {"dataExpiracaoSolicitacao": "2099-01-01T12:00:00Z"},
        "destinatario": {"cpf": "12345678909", "conta": "998877", "ispbParticipante": "87654321"},
    }
    solic = client.post_solicrec(request)
    assert solic["status"] == "CRIADA" and len(solic["idSolicRec"]) == 29
    assert client.get_solicrec(solic["idSolicRec"])["status"] == "ENVIADA"
    with pytest.raises(PixApiError) as error:
        client.post_solicrec(request)
    assert error.value.error_name == "SolicRecOperacaoInvalida"
    server.receive_solicrec(solic["idSolicRec"])
    server.accept_solicrec(solic["idSolicRec"])
    assert client.get_solicrec(solic["idSolicRec"])["status"] == "ACEITA"
    got = client.get_rec(rec["idRec"])
    assert (got["status"], got["ativacao"]["tipoJornada"]) == ("APROVADA", "JORNADA_1")
    assert got["pagador"]["ispbParticipante"] == "87654321"


def test_solicrec_cancel_answers_201_and_only_once(client, server):
    rec = client.post_rec(rec_body())
    solic = client.post_solicrec(
        {
            "idRec": rec["idRec"],
            "calendario": {"dataExpiracaoSolicitacao": "2099-01-01T12:00:00Z"},
            "destinatario": {
                "cnpj": "12ABC34501DE35",
                "conta": "1",
                "ispbParticipante": "ABCD1234",
            },
        }
    )
    assert client.cancel_solicrec(solic["idSolicRec"])["status"] == "CANCELADA"
    with pytest.raises(PixApiError) as error:
        client.cancel_solicrec(solic["idSolicRec"])
    assert "solicrec.status" in error.value.fields


def test_rec_rejected_and_expired_by_the_payer(client, server, receiver):
    client.put_webhookrec(receiver.url + "/")  # the path is appended literally: "//rec"
    rejected = client.post_rec(rec_body())["idRec"]
    expired = client.post_rec(rec_body())["idRec"]
    server.reject_rec(rejected)
    server.expire_rec(expired)
    assert client.get_rec(rejected)["encerramento"]["rejeicao"]["codigo"] == "AP13"
    assert client.get_rec(expired)["status"] == "EXPIRADA"
    with pytest.raises(PixApiError) as error:
        client.cancel_rec(rejected)
    assert error.value.error_name == "RecOperacaoInvalida"
    server.wait_notifications()
    assert {p for p, _h, _b in receiver.received} == {"/hooks/psp//rec"}


def test_rec_cancelled_by_the_receiver_and_by_the_payer(client, server, receiver):
    client.put_webhookrec(receiver.url)
    by_us = approved_rec(client, server)
    by_payer = approved_rec(client, server)
    cancelled = client.cancel_rec(by_us)
    assert cancelled["status"] == "CANCELADA"
    assert cancelled["encerramento"]["cancelamento"]["solicitante"] == "USUARIO_RECEBEDOR"
    server.cancel_rec_by_payer(by_payer)
    server.wait_notifications()
    last = receiver.received[-1][2]["recs"][0]
    assert last["idRec"] == by_payer
    assert last["encerramento"]["cancelamento"]["solicitante"] == "USUARIO_PAGADOR"
    with pytest.raises(PixApiError):
        client.put_cobr(make_txid(), cobr_body(by_payer, TODAY + 5 * DAY))


def test_rec_start_date_before_today(client):
    with pytest.raises(PixApiError) as error:
        client.post_rec(rec_body(start=TODAY - DAY))
    assert "rec.calendario.dataInicial" in error.value.fields


def test_locrec_unlink(client):
    loc = client.post_locrec()
    rec = client.post_rec(rec_body(loc=loc["id"]))
    assert "idRec" not in client.unlink_locrec(loc["id"])
    assert "loc" not in client.get_rec(rec["idRec"])
    with pytest.raises(PixApiError) as error:
        client.get_locrec(9999)
    assert error.value.error_name == "PayloadLocationRecNaoEncontrado"


# ---------------------------------------------------------------------------
# cobr: cycles, window, retries, cancellations
# ---------------------------------------------------------------------------


def test_three_cycles_charged_and_settled(client, server, receiver):
    client.put_webhookcobr(receiver.url)
    id_rec = approved_rec(client, server, start=TODAY + 7 * DAY)
    e2es = []
    for month in range(3):
        server.today = datetime.date(2025, 7 + month, 1)
        due = datetime.date(2025, 7 + month, 8)
        txid = make_txid()
        created = client.put_cobr(txid, cobr_body(id_rec, due))
        assert created["status"] == "CRIADA"
        active = client.get_cobr(txid)
        assert active["status"] == "ATIVA"
        assert [(t["tipo"], t["status"]) for t in active["tentativas"]] == [("AGND", "AGENDADA")]
        e2es.append(server.pay_cobr(txid))
        paid = client.get_cobr(txid)
        assert paid["status"] == "CONCLUIDA"
        assert paid["pix"][0]["endToEndId"] == e2es[-1]
    assert len(set(e2es)) == 3
    server.wait_notifications()
    concluded = [
        b["cobsr"][0]["txid"]
        for p, _h, b in receiver.received
        if b["cobsr"][0]["status"] == "CONCLUIDA"
    ]
    assert len(concluded) == 3
    assert all(p == "/hooks/psp/cobr" for p, _h, _b in receiver.received)


def test_weekend_due_date_moves_to_monday(client, server):
    id_rec = approved_rec(client, server)
    server.today = datetime.date(2025, 7, 4)
    txid = make_txid()
    client.put_cobr(txid, cobr_body(id_rec, datetime.date(2025, 7, 12)))  # a Saturday
    assert client.get_cobr(txid)["tentativas"][0]["dataLiquidacao"] == "2025-07-14"


@pytest.mark.parametrize("days", [1, 11])
def test_cobr_outside_the_2_to_10_day_window(client, server, days):
    id_rec = approved_rec(client, server, start=TODAY)
    with pytest.raises(PixApiError) as error:
        client.put_cobr(make_txid(), cobr_body(id_rec, TODAY + days * DAY))
    assert "cobr.calendario.dataDeVencimento" in error.value.fields


def test_one_live_cobr_per_cycle_and_fixed_amount(client, server):
    id_rec = approved_rec(client, server)
    first = make_txid()
    client.put_cobr(first, cobr_body(id_rec, TODAY + 6 * DAY))
    with pytest.raises(PixApiError) as error:
        client.put_cobr(make_txid(), cobr_body(id_rec, TODAY + 8 * DAY))
    assert "mesmo ciclo" in str(error.value)
    with pytest.raises(PixApiError) as error:
        client.put_cobr(first, cobr_body(id_rec, TODAY + 6 * DAY))
    assert "cobr.txid" in error.value.fields
    client.cancel_cobr(first)
    with pytest.raises(PixApiError) as error:
        client.put_cobr(make_txid(), cobr_body(id_rec, TODAY + 8 * DAY, amount="10.00"))
    assert "cobr.valor.original" in error.value.fields
    assert client.post_cobr(cobr_body(id_rec, TODAY + 8 * DAY))["status"] == "CRIADA"


def test_failed_attempt_then_retentativa_settles(client, server, receiver):
    client.put_webhookcobr(receiver.url)
    id_rec = approved_rec(client, server)
    txid = make_txid()
    client.put_cobr(txid, cobr_body(id_rec, TODAY + 6 * DAY))
    server.today = TODAY + 6 * DAY
    server.fail_cobr_attempt(txid, "AM02")
    failed = client.get_cobr(txid)
    assert failed["status"] == "ATIVA"
    assert failed["tentativas"][0]["rejeicao"]["codigo"] == "AM02"
    with pytest.raises(PixApiError) as error:
        client.retry_cobr(txid, server.today)
    assert "data" in error.value.fields
    retried = client.retry_cobr(txid, server.today + 2 * DAY)
    assert [t["tipo"] for t in retried["tentativas"]] == ["AGND", "NTAG"]
    with pytest.raises(PixApiError) as error:
        client.retry_cobr(txid, server.today + 3 * DAY)
    assert "SOLICITADA ou AGENDADA" in str(error.value)
    server.pay_cobr(txid)
    assert client.get_cobr(txid)["status"] == "CONCLUIDA"


def test_no_retentativa_without_permite_3r_7d(client, server):
    id_rec = approved_rec(client, server, policy="NAO_PERMITE")
    txid = make_txid()
    client.put_cobr(txid, cobr_body(id_rec, TODAY + 6 * DAY))
    server.fail_cobr_attempt(txid, "AM02")
    assert client.get_cobr(txid)["status"] == "REJEITADA"
    with pytest.raises(PixApiError) as error:
        client.retry_cobr(txid, TODAY + 8 * DAY)
    assert "rec.politicaRetentativa" in error.value.fields
    # a rejected cycle may be charged again
    assert client.put_cobr(make_txid(), cobr_body(id_rec, TODAY + 7 * DAY))["status"] == "CRIADA"


def test_final_rejection_code_and_expiry(client, server):
    id_rec = approved_rec(client, server)
    txid = make_txid()
    client.put_cobr(txid, cobr_body(id_rec, TODAY + 6 * DAY))
    server.fail_cobr_attempt(txid, "MSUC")
    assert client.get_cobr(txid)["encerramento"]["rejeicao"]["codigo"] == "MSUC"
    other_rec = approved_rec(client, server)
    other = make_txid()
    client.put_cobr(other, cobr_body(other_rec, TODAY + 6 * DAY))
    server.expire_cobr(other)
    assert client.get_cobr(other)["status"] == "EXPIRADA"


def test_cobr_cancellation_rules(client, server):
    id_rec = approved_rec(client, server)
    txid = make_txid()
    client.put_cobr(txid, cobr_body(id_rec, TODAY + 6 * DAY))
    server.today = TODAY + 6 * DAY  # the first attempt's date
    with pytest.raises(PixApiError) as error:
        client.cancel_cobr(txid)
    assert "primeira tentativa" in str(error.value)
    with pytest.raises(ValueError):
        server.cancel_cobr_by_payer(txid)
    server.today = TODAY + 5 * DAY
    server.cancel_cobr_by_payer(txid)
    cancelled = client.get_cobr(txid)
    assert cancelled["encerramento"]["cancelamento"]["solicitante"] == "USUARIO_PAGADOR"
    assert cancelled["tentativas"][0]["status"] == "CANCELADA"
    with pytest.raises(PixApiError):
        client.cancel_cobr(txid)


def test_cobr_not_found(client):
    with pytest.raises(PixApiError) as error:
        client.get_cobr(make_txid())
    assert (error.value.status, error.value.error_name) == (404, "CobRNaoEncontrado")


# ---------------------------------------------------------------------------
# retries: idempotent calls only
# ---------------------------------------------------------------------------


def test_get_retried_on_503_and_dropped_connection(client, server, sleeps):
    client.put_webhookrec("https://erp.example.com/pix")
    server.fail_next("GET", "/webhookrec", status=503)
    server.fail_next("GET", "/webhookrec", drop=True)
    assert client.get_webhookrec()["webhookUrl"] == "https://erp.example.com/pix"
    assert [m for m, p in server.requests if p.endswith("/webhookrec")].count("GET") == 3
    assert len(sleeps) == 2


def test_retries_exhausted(client, server):
    server.fail_next("GET", "/cob/", status=503, times=5)
    with pytest.raises(PixApiError) as error:
        client.get_cob(make_txid())
    assert (error.value.status, error.value.error_name) == (503, "ServicoIndisponivel")
    assert len(api_calls(server)) == 3  # 1 + 2 retries


def test_post_and_patch_are_not_retried(client, server):
    server.fail_next("POST", "/rec$", status=503)
    with pytest.raises(PixApiError) as error:
        client.post_rec(rec_body())
    assert error.value.status == 503
    assert api_calls(server) == ["POST"]
    id_rec = approved_rec(client, server)
    server.fail_next("PATCH", "/rec/", status=502)
    with pytest.raises(PixApiError):
        client.cancel_rec(id_rec)
    assert api_calls(server).count("PATCH") == 1


def test_lost_answer_to_put_cobr_is_read_back(client, server):
    id_rec = approved_rec(client, server)
    txid = make_txid()
    server.fail_next("PUT", "/cobr/", status=504, after=True)  # applied, answer lost
    answer = client.put_cobr(txid, cobr_body(id_rec, TODAY + 6 * DAY))
    assert answer["txid"] == txid
    assert len(server.cobrs) == 1
    assert api_calls(server)[-3:] == ["PUT", "PUT", "GET"]


def test_lost_answer_to_webhook_delete(client, server):
    client.put_webhookcobr("https://erp.example.com/pix")
    server.fail_next("DELETE", "/webhookcobr", status=503, after=True)
    assert client.delete_webhookcobr() is None
    assert not server.webhooks


# ---------------------------------------------------------------------------
# webhooks and refunds
# ---------------------------------------------------------------------------


def test_webhook_registration(client, server):
    assert client.put_webhook(server.pix_key, "https://erp.example.com/pix") is None
    assert client.get_webhook(server.pix_key)["webhookUrl"] == "https://erp.example.com/pix"
    client.delete_webhook(server.pix_key)
    with pytest.raises(PixApiError) as error:
        client.get_webhook(server.pix_key)
    assert (error.value.status, error.value.error_name) == (404, "WebhookNaoEncontrado")
    with pytest.raises(PixApiError) as error:
        client.put_webhook("outra@chave.com", "https://erp.example.com/pix")
    assert error.value.error_name == "WebhookOperacaoInvalida"
    assert "chave" in error.value.fields
    with pytest.raises(PixRequestError):
        client.put_webhookcobr("erp.example.com/pix")
    for put, get in (
        (client.put_webhookrec, client.get_webhookrec),
        (client.put_webhookcobr, client.get_webhookcobr),
    ):
        put("https://erp.example.com/hooks")
        assert get()["webhookUrl"] == "https://erp.example.com/hooks"
    client.delete_webhookrec()
    with pytest.raises(PixApiError):
        client.get_webhookrec()


def test_refund_of_a_pix(client, server, receiver):
    client.put_webhook(server.pix_key, receiver.url)
    txid = make_txid()
    client.put_cob(txid, cob_body(server, "50.00"))
    e2e = server.pay_cob(txid)
    refund = client.put_devolucao(e2e, "D1", {"valor": "20.00", "descricao": "Estorno parcial"})
    assert (refund["status"], refund["natureza"]) == ("EM_PROCESSAMENTO", "ORIGINAL")
    with pytest.raises(PixApiError) as error:
        client.put_devolucao(e2e, "D2", {"valor": "30.01"})
    assert error.value.error_name == "PixDevolucaoInvalida"
    assert "devolucao.valor" in error.value.fields
    server.fail_next("PUT", "/devolucao/", status=503, after=True)
    assert client.put_devolucao(e2e, "D3", {"valor": "30.00"})["id"] == "D3"
    server.settle_refund(e2e, "D1")
    assert client.get_devolucao(e2e, "D1")["status"] == "DEVOLVIDO"
    with pytest.raises(PixApiError) as error:
        client.get_devolucao(e2e, "D9")
    assert error.value.error_name == "PixDevolucaoNaoEncontrada"
    with pytest.raises(PixApiError) as error:
        client.get_pix("E" + "1" * 31)
    assert error.value.error_name == "PixNaoEncontrado"
    server.wait_notifications()
    last = receiver.received[-1][2]["pix"][0]
    assert last["devolucoes"][0]["status"] == "DEVOLVIDO"


def test_refund_of_a_pix_automatico_payment(client, server):
    id_rec = approved_rec(client, server)
    txid = make_txid()
    client.put_cobr(txid, cobr_body(id_rec, TODAY + 6 * DAY))
    e2e = server.pay_cobr(txid)
    assert client.get_pix(e2e)["txid"] == txid
    assert client.put_devolucao(e2e, "R1", {"valor": "99.90"})["valor"] == "99.90"


def test_repeated_notification(client, server, receiver):
    client.put_webhookrec(receiver.url)
    id_rec = approved_rec(client, server)
    server.wait_notifications()
    server.redeliver()
    server.wait_notifications()
    assert [b["recs"][0]["idRec"] for _p, _h, b in receiver.received] == [id_rec, id_rec]


# ---------------------------------------------------------------------------
# the client certificate as uploaded, and tokens shared by the clients of a process
# ---------------------------------------------------------------------------


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_client_certificate_from_pem_or_pkcs12(pki):
    cert, key = _read(pki.client_cert), _read(pki.client_key)
    together = certificates.load_client_certificate(cert + key)
    apart = certificates.load_client_certificate(cert, key)
    p12 = certificates.load_client_certificate(
        _read(pki.client_p12), password=pki.client_p12_password
    )
    assert together.key_pem == apart.key_pem == p12.key_pem
    assert together.key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert together.certificate_pem == p12.certificate_pem
    assert "CN=rbm-client" in p12.subject and "CN=RBM test CA" in p12.issuer
    assert p12.not_after > datetime.datetime.utcnow()


def test_client_certificate_with_an_encrypted_key(pki):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(_read(pki.client_key), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"k3y"),
    )
    loaded = certificates.load_client_certificate(_read(pki.client_cert), encrypted, "k3y")
    assert "ENCRYPTED" not in loaded.key_pem
    for password in (None, "wrong"):
        with pytest.raises(certificates.CertificateError) as error:
            certificates.load_client_certificate(_read(pki.client_cert), encrypted, password)
        assert error.value.code == certificates.WRONG_PASSWORD


@pytest.mark.parametrize(
    "upload, code",
    [
        (lambda pki, other: (_read(pki.client_p12), None, "wrong"), certificates.WRONG_PASSWORD),
        (lambda pki, other: (_read(pki.client_p12), None, None), certificates.WRONG_PASSWORD),
        (
            lambda pki, other: (_read(pki.client_cert), _read(other.client_key), None),
            certificates.KEY_MISMATCH,
        ),
        (lambda pki, other: (_read(pki.client_cert), None, None), certificates.NO_KEY),
        (lambda pki, other: (_read(pki.client_key), None, None), certificates.NO_CERTIFICATE),
        (lambda pki, other: (b"not a certificate", None, None), certificates.UNREADABLE),
    ],
)
def test_client_certificate_refused(pki, other_pki, upload, code):
    data, key, password = upload(pki, other_pki)
    with pytest.raises(certificates.CertificateError) as error:
        certificates.load_client_certificate(data, key, password)
    assert error.value.code == code


def test_token_shared_by_the_clients_of_one_connection_version(server):
    cache = TokenCache()
    first = CachedTokenClient(connect(server), cache, ("db", 1, "v1"))
    second = CachedTokenClient(connect(server), cache, ("db", 1, "v1"))
    token = first.access_token()
    assert second.access_token() == token
    assert server.token_requests == 1
    # new credentials (a new version): a new token, the old one forgotten
    third = CachedTokenClient(connect(server), cache, ("db", 1, "v2"))
    assert third.access_token() != token
    assert server.token_requests == 2
    assert cache.get(("db", 1, "v1")) is None
    # a token the PSP stopped accepting: fetched again once, and shared
    server.expire_tokens()
    with pytest.raises(PixApiError):
        third.get_webhookrec()  # no webhook registered: 404, after a new token
    assert server.token_requests == 3
    fourth = CachedTokenClient(connect(server), cache, ("db", 1, "v2"))
    assert fourth.access_token() == third.access_token()
    assert server.token_requests == 3
