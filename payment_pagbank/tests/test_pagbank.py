import json
import logging
import socket
from datetime import timedelta, timezone
from unittest.mock import patch

import psycopg2

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import JsonRpcException, tagged
from odoo.tools import hmac as hmac_tool
from odoo.tools import is_html_empty, mute_logger

from odoo.addons.payment_pagbank import const
from odoo.addons.payment_pagbank.controllers.main import authenticity_token

from .common import TOKEN, PagBankCase

DELETE = object()


@tagged("post_install", "-at_install")
class TestPagBankCard(PagBankCase):
    def test_card_payment_saves_the_card_and_never_logs_secrets(self):
        tx = self._tx(tokenize=True)
        with self.assertLogs("odoo.addons.payment_pagbank", logging.DEBUG) as logs:
            tx._pagbank_create_order(
                encrypted_card="ENC-4111111111111111", holder_name="MARIA J CONCEICAO"
            )
        self.assertEqual(tx.state, "done")
        request = self.fake.requests_to("POST", "/orders")[-1]
        charge = request["body"]["charges"][0]
        self.assertEqual(charge["amount"], {"value": 123456, "currency": "BRL"})
        self.assertEqual(
            charge["payment_method"]["card"], {"encrypted": "ENC-4111111111111111", "store": True}
        )
        self.assertEqual(charge["payment_method"]["holder"]["tax_id"], "39053344705")
        self.assertEqual(charge["recurring"], {"type": "INITIAL"})
        self.assertEqual(request["body"]["customer"]["tax_id"], "39053344705")
        self.assertEqual(request["body"]["items"][0]["unit_amount"], 123456)
        self.assertTrue(
            request["body"]["notification_urls"][0].endswith("/payment/pagbank/webhook")
        )
        self.assertTrue(request["headers"].get("x-idempotency-key"))
        # The card is saved as a token usable for later charges.
        token = tx.token_id
        self.assertTrue(token.provider_ref.startswith("CARD_"))
        self.assertEqual(token.payment_details, "1111")
        self.assertEqual(token.pagbank_holder_name, "MARIA J CONCEICAO")
        self.assertEqual(token.partner_id, self.customer)
        self.assertEqual(tx.payment_method_id.code, "visa")
        self.assertTrue(tx.provider_reference.startswith("CHAR_"))
        self.assertTrue(tx.pagbank_order_id.startswith("ORDE_"))
        # The payment is posted once the transaction is post-processed.
        tx._post_process()
        self.assertEqual(tx.payment_id.amount, 1234.56)
        self.assertIn(tx.payment_id.state, ("in_process", "paid"))
        # Neither the token nor the card data reach the logs, even at DEBUG level.
        output = "\n".join(record.getMessage() for record in logs.records)
        self.assertIn("PagBank request POST /orders", output)
        self.assertNotIn(TOKEN, output)
        self.assertNotIn("4111111111111111", output)
        self.assertNotIn("39053344705", output)
        self.assertNotIn("maria.conceicao@example.com", output)
        self.assertIn('"tax_id": "***"', output)

    def test_payment_route_checks_the_access_token(self):
        tx = self._tx()
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                "/payment/pagbank/payment",
                {
                    "reference": tx.reference,
                    "access_token": "forged",
                    "encrypted_card": "ENC-4111111111111111",
                },
            )
        self.assertEqual(tx.state, "draft")
        self.assertFalse(self.fake.requests_to("POST", "/orders"))
        self.make_jsonrpc_request(
            "/payment/pagbank/payment",
            {
                "reference": tx.reference,
                "access_token": hmac_tool(
                    self.env(su=True), "generate_access_token", f"{tx.reference}|{self.customer.id}"
                ),
                "encrypted_card": "ENC-5555666677778884",
                "holder_name": "MARIA J CONCEICAO",
            },
        )
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.payment_method_id.code, "mastercard")
        # A second submission of the same payment is refused, PagBank is not called again.
        with self.assertRaises(ValidationError):
            tx._pagbank_create_order(encrypted_card="ENC-5555666677778884")
        self.assertEqual(len(self.fake.requests_to("POST", "/orders")), 1)

    def test_declined_card_shows_the_reason_given_by_pagbank(self):
        tx = self._tx(tokenize=True)
        tx._pagbank_create_order(encrypted_card="ENC-4000000000000002", holder_name="MARIA")
        self.assertEqual(tx.state, "error")
        self.assertIn("TRANSACAO NAO PERMITIDA - NAO TENTE NOVAMENTE", tx.state_message)
        self.assertIn("20017", tx.state_message)
        self.assertFalse(tx.token_id, "a declined card is not saved")
        tx._post_process()
        self.assertFalse(tx.payment_id)

    def test_card_in_analysis_is_pending(self):
        tx = self._tx()
        tx._pagbank_create_order(encrypted_card="ENC-4000000000000010", holder_name="MARIA")
        self.assertEqual(tx.state, "pending")

    def test_invalid_card_data_is_refused_in_plain_words(self):
        tx = self._tx()
        with self.assertRaisesRegex(ValidationError, "invalid value: card data"):
            tx._pagbank_create_order(encrypted_card="not-encrypted", holder_name="MARIA")
        self.assertEqual(tx.state, "draft")

    def test_wrong_token_is_explained(self):
        self.provider.pagbank_token = "wrong-token"
        tx = self._tx()
        with self.assertRaisesRegex(ValidationError, "refused the credentials of the provider"):
            tx._pagbank_create_order(encrypted_card="ENC-4111111111111111")

    def test_customer_without_cpf_is_explained_before_calling_pagbank(self):
        self.customer.vat = False
        tx = self._tx()
        with self.assertRaisesRegex(
            ValidationError, "Maria José da Conceição has no valid CPF/CNPJ"
        ):
            tx._pagbank_create_order(encrypted_card="ENC-4111111111111111")
        self.assertFalse(self.fake.requests_to("POST", "/orders"))

    def test_public_key_is_fetched_from_pagbank(self):
        self.provider.pagbank_public_key = False
        self.provider.action_pagbank_fetch_public_key()
        self.assertTrue(self.provider.pagbank_public_key.startswith("MIIB"))
        self.assertEqual(
            self.fake.requests_to("POST", "/public-keys")[-1]["body"], {"type": "card"}
        )

    def test_cards_are_saved_while_paying_not_on_their_own(self):
        def compatible(**kwargs):
            return self.env["payment.provider"]._get_compatible_providers(
                self.env.company.id, self.customer.id, 100.0, currency_id=self.brl.id, **kwargs
            )

        self.assertIn(self.provider, compatible())
        self.assertNotIn(self.provider, compatible(is_validation=True, force_tokenization=True))

    def test_provider_url_override_only_in_test_mode(self):
        self.assertEqual(self.provider._pagbank_get_api_url(), self.fake.url)
        self.provider.state = "enabled"
        self.assertEqual(self.provider._pagbank_get_api_url(), "https://api.pagseguro.com")


@tagged("post_install", "-at_install")
class TestPagBankRecurring(PagBankCase):
    def _posted_invoice(self, amount=1234.56):
        invoice = self.init_invoice(
            "out_invoice",
            partner=self.customer,
            amounts=[amount],
            taxes=[],
            currency=self.brl,
            post=True,
        )
        self.assertEqual(invoice.amount_total, amount)
        return invoice

    def _offline_tx(self, token, invoice):
        return self._tx(
            flow="offline",
            token_id=token.id,
            amount=invoice.amount_residual,
            invoice_ids=[(6, 0, invoice.ids)],
        )

    def test_saved_card_pays_a_posted_invoice_offline(self):
        token = self._saved_card()
        invoice = self._posted_invoice(789.01)
        tx = self._offline_tx(token, invoice)
        tx._send_payment_request()
        self.assertEqual(tx.state, "done")
        request = self.fake.requests_to("POST", "/orders")[-1]
        charge = request["body"]["charges"][0]
        self.assertEqual(charge["payment_method"]["card"], {"id": token.provider_ref})
        self.assertEqual(charge["payment_method"]["holder"]["name"], "MARIA J CONCEICAO")
        self.assertEqual(charge["recurring"], {"type": "SUBSEQUENT"})
        self.assertEqual(charge["amount"]["value"], 78901)
        tx._post_process()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.amount_residual, 0)
        self.assertEqual(tx.payment_id.amount, 789.01)

    def test_declined_offline_charge_is_an_error_with_the_reason(self):
        token = self._saved_card()
        self.fake.cards[token.provider_ref]["number"] = "4000000000000002"  # now refused
        invoice = self._posted_invoice()
        tx = self._offline_tx(token, invoice)
        tx._send_payment_request()  # never raises for an offline charge
        self.assertEqual(tx.state, "error")
        self.assertIn("TRANSACAO NAO PERMITIDA", tx.state_message)
        tx._post_process()
        self.assertEqual(invoice.payment_state, "not_paid")

    def test_unknown_saved_card_is_an_error_naming_it(self):
        token = self._saved_card()
        token.provider_ref = "CARD_UNKNOWN"
        tx = self._offline_tx(token, self._posted_invoice())
        tx._send_payment_request()
        self.assertEqual(tx.state, "error")
        self.assertIn("invalid value: saved card", tx.state_message)

    def test_timeout_or_server_error_is_retried_with_the_same_idempotency_key(self):
        failures = {
            "timeout": lambda: self._make_slow(1),
            "HTTP 503": lambda: setattr(self.fake, "unavailable_requests", 1),
        }
        for failure, make_it_fail in failures.items():
            with self.subTest(failure=failure):
                token = self._saved_card()
                invoice = self._posted_invoice()
                orders_before = len(self.fake.orders)
                make_it_fail()
                tx = self._offline_tx(token, invoice)
                tx._send_payment_request()
                self.assertEqual(tx.state, "done")
                attempts = self.fake.requests_to("POST", "/orders")[-2:]
                self.assertEqual(
                    attempts[0]["headers"]["x-idempotency-key"],
                    attempts[1]["headers"]["x-idempotency-key"],
                )
                self.assertEqual(len(self.fake.orders), orders_before + 1, "charged once")
                tx._post_process()
                self.assertEqual(len(self._payments(tx)), 1)

    def test_server_error_at_every_attempt_is_explained(self):
        token = self._saved_card()
        requests_before = len(self.fake.requests_to("POST", "/orders"))
        self.fake.unavailable_requests = 3
        tx = self._offline_tx(token, self._posted_invoice())
        tx._send_payment_request()
        self.assertEqual(
            len(self.fake.requests_to("POST", "/orders")) - requests_before, 3, "1 try + 2 retries"
        )
        self.assertEqual(tx.state, "error")
        self.assertIn("PagBank is unavailable right now (HTTP 503)", tx.state_message)

    def test_unreachable_pagbank_leaves_the_charge_pending(self):
        tx = self._offline_tx(self._saved_card(), self._posted_invoice())
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.env["ir.config_parameter"].sudo().set_param(const.SANDBOX_URL_PARAM, closed_url)
        tx._send_payment_request()
        self.assertEqual(tx.state, "pending")
        self.assertIn("PagBank could not be reached", tx.state_message)

    def test_unanswered_offline_charge_waits_for_the_notification(self):
        token = self._saved_card()
        invoice = self._posted_invoice()
        self._make_slow(3)
        tx = self._offline_tx(token, invoice)
        tx._send_payment_request()
        self.assertEqual(tx.state, "pending")
        self.assertIn("did not answer within 10 seconds", tx.state_message)
        # PagBank did charge the card: its notification confirms the transaction.
        order = next(o for o in self.fake.orders.values() if o["reference_id"] == tx.reference)
        self.assertEqual(self._notify(order).status_code, 200)
        self.assertEqual(tx.state, "done")
        tx._post_process()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_card_flow_logs_no_personal_data_at_info(self):
        """Saving a card, charging it offline, a boleto and its notification: what the addons
        (payment, account, PagBank...) log at INFO level and above names no CPF, email, card BIN
        or holder."""
        records = []
        handler = logging.Handler(logging.INFO)
        handler.emit = records.append
        loggers = [
            logging.getLogger(f"odoo.addons.{addon}")
            for addon in ("payment_pagbank", "payment", "account", "account_payment")
        ]
        for logger in loggers:
            logger.addHandler(handler)
        try:
            token = self._saved_card()
            tx = self._offline_tx(token, self._posted_invoice())
            tx._send_payment_request()
            boleto = self._tx(self.boleto, amount=250.0)
            boleto._pagbank_create_order()
            self._notify(self.fake.pay(boleto.pagbank_order_id))
            tx._post_process()
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
        self.assertEqual((tx.state, boleto.state), ("done", "done"))
        output = "\n".join(record.getMessage() for record in records)
        self.assertIn("Saved PagBank card as token", output)
        self.assertIn("PagBank notification for ORDE_", output)
        self.assertIn("PagBank request POST /orders", output)
        for personal in (
            "39053344705",
            "390.533.447-05",
            "maria.conceicao@example.com",
            "411111",
            "MARIA J CONCEICAO",
            "01310100",
        ):
            self.assertNotIn(personal, output)

    def _age(self, *txs, hours=1):
        for tx in txs:
            tx.last_state_change = fields.Datetime.now() - timedelta(hours=hours)

    def test_unanswered_charge_is_found_at_pagbank_by_reference(self):
        """No answer, no notification: the check cron finds the order by the transaction's
        reference and applies it; the card is never charged a second time."""
        token = self._saved_card()
        invoice = self._posted_invoice()
        self._make_slow(3)
        tx = self._offline_tx(token, invoice)
        tx._send_payment_request()
        self.assertEqual(tx.state, "pending")
        self.assertFalse(tx.pagbank_order_id)
        posts_before = len(self.fake.requests_to("POST", "/orders"))
        orders_before = len(self.fake.orders)
        self._age(tx)
        self.env["payment.transaction"]._cron_pagbank_check_pending()
        self.assertEqual(tx.state, "done")
        order = next(o for o in self.fake.orders.values() if o["reference_id"] == tx.reference)
        self.assertEqual(tx.pagbank_order_id, order["id"])
        self.assertEqual(tx.provider_reference, order["charges"][0]["id"])
        lookup = self.fake.requests_to("GET", "/orders")[-1]
        self.assertEqual(
            (lookup["path"], lookup["query"]), ("/orders", {"reference_id": tx.reference})
        )
        self.assertEqual(
            len(self.fake.requests_to("POST", "/orders")), posts_before, "not sent again"
        )
        self.assertEqual(len(self.fake.orders), orders_before)
        tx._post_process()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def _check_unanswered_charge(self, lookup_url):
        """A card charge sent while PagBank was unreachable (pending, no order
        id), then the check cron run with PagBank at ``lookup_url``; returns the
        transaction and the number of orders sent before the cron."""
        tx = self._offline_tx(self._saved_card(), self._posted_invoice())
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        icp = self.env["ir.config_parameter"].sudo()
        icp.set_param(const.SANDBOX_URL_PARAM, closed_url)
        tx._send_payment_request()
        self.assertEqual(tx.state, "pending")
        icp.set_param(const.SANDBOX_URL_PARAM, lookup_url)
        posts_before = len(self.fake.requests_to("POST", "/orders"))
        self._age(tx)
        self.env["payment.transaction"]._cron_pagbank_check_pending()
        return tx, posts_before

    def test_charge_pagbank_never_received_is_canceled_not_sent_again(self):
        tx, posts_before = self._check_unanswered_charge(self.fake.url)
        self.assertEqual(tx.state, "cancel")
        self.assertIn(f"PagBank has no order for the payment {tx.reference}", tx.state_message)
        self.assertEqual(len(self.fake.requests_to("POST", "/orders")), posts_before)

    def test_lookup_not_found_leaves_the_charge_pending(self):
        """A 404 to the look-up by reference says nothing about this payment:
        it is neither canceled nor sent again, and staff are told to check it."""
        tx, posts_before = self._check_unanswered_charge(self.fake.url + "/missing-route")
        self.assertEqual(tx.state, "pending")
        self.assertIn("could not be looked up at PagBank", tx.state_message)
        self.assertEqual(len(self.fake.requests_to("POST", "/orders")), posts_before)

    def test_check_cron_commits_each_transaction_on_its_own(self):
        """One transaction failing in the check cron (here an unexpected error after a write)
        is rolled back alone; each transaction is committed once checked."""
        first, failing, last = (self._tx(self.boleto, amount=10.0 * i) for i in (1, 2, 3))
        for tx in (first, failing, last):
            tx._pagbank_create_order()
            self.fake.pay(tx.pagbank_order_id)  # the notifications were lost
        self._age(first, hours=3)
        self._age(failing, hours=2)
        self._age(last, hours=1)
        Transaction = type(self.env["payment.transaction"])
        original_refresh = Transaction.action_pagbank_refresh

        def refresh(tx):
            if tx == failing:
                tx.state_message = "half-written"
                raise RuntimeError("unexpected")
            return original_refresh(tx)

        commits = []

        def commit(model):
            commits.append((first.state, failing.state, failing.state_message, last.state))

        with (
            patch.object(Transaction, "action_pagbank_refresh", refresh),
            patch.object(Transaction, "_pagbank_commit", commit),
            self.assertLogs("odoo.addons.payment_pagbank", "ERROR") as logs,
        ):
            self.env["payment.transaction"]._cron_pagbank_check_pending()
        self.assertEqual(
            commits,
            [
                ("done", "pending", False, "pending"),
                ("done", "pending", False, "pending"),
                ("done", "pending", False, "done"),
            ],
        )
        self.assertIn(f"could not check {failing.reference}", logs.output[0])
        # the next run checks it again
        self._age(failing)
        self.env["payment.transaction"]._cron_pagbank_check_pending()
        self.assertEqual(failing.state, "done")

    def test_unanswered_payment_form_request_waits_for_the_notification(self):
        self._make_slow(3)
        tx = self._tx()
        tx._pagbank_create_order(encrypted_card="ENC-4111111111111111")
        self.assertEqual(len(self.fake.requests_to("POST", "/orders")), 3, "1 try + 2 retries")
        self.assertEqual(tx.state, "pending")
        self.assertIn("did not answer within 10 seconds", tx.state_message)
        # The customer cannot send it again (a new charge); PagBank's notification settles it.
        with self.assertRaises(ValidationError):
            tx._pagbank_create_order(encrypted_card="ENC-4111111111111111")
        order = next(o for o in self.fake.orders.values() if o["reference_id"] == tx.reference)
        self._notify(order)
        self.assertEqual(tx.state, "done")


@tagged("post_install", "-at_install")
class TestPagBankPixBoleto(PagBankCase):
    def test_pix_qr_code_then_paid_notification(self):
        tx = self._tx(self.pix, amount=99.9)
        tx._pagbank_create_order()
        self.assertEqual(tx.state, "pending")
        body = self.fake.requests_to("POST", "/orders")[-1]["body"]
        self.assertNotIn("charges", body)
        self.assertEqual(body["qr_codes"][0]["amount"], {"value": 9990})
        self.assertTrue(tx.pagbank_pix_qr_text.startswith("000201"))
        self.assertGreater(tx.pagbank_pix_expires_at, fields.Datetime.now() + timedelta(hours=23))
        html = str(
            self.env["ir.qweb"]._render(
                "payment.state_header", {"tx": tx, "is_html_empty": is_html_empty}
            )
        )
        self.assertIn(tx.pagbank_pix_qr_text, html)
        self.assertIn("/report/barcode/?barcode_type=QR", html)

        paid = self.fake.pay(tx.pagbank_order_id)
        self.assertEqual(self._notify(paid).status_code, 200)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.provider_reference, paid["charges"][0]["id"])
        tx._post_process()
        self.assertEqual(tx.payment_id.amount, 99.9)

    def test_boleto_line_then_paid_notification(self):
        tx = self._tx(self.boleto, amount=250.0)
        tx._pagbank_create_order()
        self.assertEqual(tx.state, "pending")
        boleto = self.fake.requests_to("POST", "/orders")[-1]["body"]["charges"][0][
            "payment_method"
        ]["boleto"]
        self.assertEqual(
            boleto["due_date"],
            (fields.Date.context_today(tx) + timedelta(days=3)).isoformat(),
        )
        self.assertEqual(
            boleto["holder"]["address"],
            {
                "street": "Rua das Acácias",
                "number": "100",
                "locality": "Jardim Paulista",
                "city": "São Paulo",
                "region": "São Paulo",
                "region_code": "SP",
                "country": "Brasil",
                "postal_code": "01310100",
            },
        )
        self.assertTrue(tx.pagbank_boleto_barcode.startswith("03399."))
        self.assertTrue(tx.pagbank_boleto_pdf_url.endswith(".pdf"))
        self.assertEqual(
            tx.pagbank_boleto_due_date, fields.Date.context_today(tx) + timedelta(days=3)
        )
        html = str(
            self.env["ir.qweb"]._render(
                "payment.state_header", {"tx": tx, "is_html_empty": is_html_empty}
            )
        )
        self.assertIn(tx.pagbank_boleto_barcode, html)

        paid = self.fake.pay(tx.pagbank_order_id)
        self.assertEqual(self._notify(paid).status_code, 200)
        self.assertEqual(tx.state, "done")

    def test_pending_payments_are_checked_by_the_cron(self):
        paid_pix = self._tx(self.pix, amount=10.0)
        paid_pix._pagbank_create_order()
        expired_pix = self._tx(self.pix, amount=20.0)
        expired_pix._pagbank_create_order()
        waiting_boleto = self._tx(self.boleto, amount=30.0)
        waiting_boleto._pagbank_create_order()
        recent_pix = self._tx(self.pix, amount=40.0)
        recent_pix._pagbank_create_order()
        hour_ago = fields.Datetime.now() - timedelta(hours=1)
        (paid_pix | expired_pix | waiting_boleto).last_state_change = hour_ago
        qr_code = self.fake.orders[expired_pix.pagbank_order_id]["qr_codes"][0]
        qr_code["expiration_date"] = (hour_ago.replace(tzinfo=timezone.utc)).isoformat()
        self.fake.pay(paid_pix.pagbank_order_id)  # its notification was lost
        self.fake.pay(recent_pix.pagbank_order_id)
        self.env["payment.transaction"]._cron_pagbank_check_pending()
        self.assertEqual(paid_pix.state, "done")
        self.assertEqual(expired_pix.state, "cancel")
        self.assertIn("expired without being paid", expired_pix.state_message)
        self.assertEqual(waiting_boleto.state, "pending")
        self.assertEqual(recent_pix.state, "pending", "too recent to be checked")
        self.assertEqual(len(self.fake.requests_to("GET", "/orders/")), 3)
        # Paid after all: the money is recorded on the canceled transaction.
        self.assertEqual(self._notify(self.fake.pay(expired_pix.pagbank_order_id)).status_code, 200)
        self.assertEqual(expired_pix.state, "done")

    def test_boleto_needs_a_complete_address(self):
        self.customer.zip = False
        tx = self._tx(self.boleto)
        with self.assertRaisesRegex(ValidationError, "incomplete for a boleto.*ZIP"):
            tx._pagbank_create_order()
        self.assertFalse(self.fake.requests_to("POST", "/orders"))

    def test_pix_and_boleto_are_never_saved(self):
        tx = self._tx(self.pix, tokenize=True)
        self.assertFalse(tx.tokenize)


@tagged("post_install", "-at_install")
class TestPagBankNotifications(PagBankCase):
    def _boleto_order(self):
        tx = self._tx(self.boleto, amount=100.0)
        tx._pagbank_create_order()
        return tx, json.loads(json.dumps(self.fake.orders[tx.pagbank_order_id]))

    def test_each_charge_status(self):
        expected = {
            "WAITING": "pending",
            "IN_ANALYSIS": "pending",
            "AUTHORIZED": "pending",
            "PAID": "done",
            "DECLINED": "error",
            "CANCELED": "cancel",
        }
        for status, state in expected.items():
            with self.subTest(status=status):
                tx = self._tx(self.boleto, amount=100.0)
                tx._pagbank_create_order()
                payload = self.fake.set_status(tx.pagbank_order_id, status)
                self.assertEqual(self._notify(payload).status_code, 200)
                self.assertEqual(tx.state, state)

    def test_charge_object_notification(self):
        tx, _order = self._boleto_order()
        order = self.fake.pay(tx.pagbank_order_id)
        self.assertEqual(self._notify(order["charges"][0]).status_code, 200)
        self.assertEqual(tx.state, "done")

    def test_duplicate_and_out_of_order_notifications_post_once(self):
        tx, waiting = self._boleto_order()
        paid = self.fake.pay(tx.pagbank_order_id)
        self._notify(paid)
        self._notify(paid)  # duplicate
        self._notify(waiting)  # late WAITING, sent before PAID
        declined = json.loads(json.dumps(paid))
        declined["charges"][0]["status"] = "DECLINED"
        self._notify(declined)  # stray late status
        self.assertEqual(tx.state, "done")
        tx._post_process()
        self._notify(paid)
        tx._post_process()
        self.assertEqual(len(self._payments(tx)), 1)
        # The database refuses a second payment of the same transaction anyway.
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                tx.payment_id.copy({"payment_transaction_id": tx.id})
                self.env.flush_all()

    def test_notification_with_a_bad_authenticity_token_is_refused(self):
        tx, _waiting = self._boleto_order()
        paid = self.fake.pay(tx.pagbank_order_id)
        with mute_logger("odoo.addons.payment_pagbank.controllers.main"):
            self.assertEqual(self._notify(paid, token="another-account").status_code, 403)
            self.assertEqual(
                self._notify(paid, headers={"Content-Type": "application/json"}).status_code, 403
            )
            body, headers = self.fake.notification(paid)
            tampered = body.replace(b'"PAID"', b'"CANCELED"')
            response = self.url_open("/payment/pagbank/webhook", data=tampered, headers=headers)
            self.assertEqual(response.status_code, 403)
        self.assertEqual(tx.state, "pending")

    def test_unexpected_notifications_are_refused_with_4xx(self):
        """Authentic notifications whose content is not what PagBank documents: a 4xx answer,
        never a 500, and the transaction unchanged."""
        tx, waiting = self._boleto_order()
        paid = self.fake.pay(tx.pagbank_order_id)

        def changed(**changes):
            data = json.loads(json.dumps(paid))
            for path, value in changes.items():
                target, *keys = [data, *path.split("__")]
                for key in keys[:-1]:
                    target = target[int(key) if key.isdigit() else key]
                last = keys[-1]
                if value is DELETE:
                    del target[int(last) if last.isdigit() else last]
                else:
                    target[int(last) if last.isdigit() else last] = value
            return json.dumps(data).encode()

        cases = [
            ("not JSON", b"PAID!", 400),
            ("truncated JSON", json.dumps(paid).encode()[:-5], 400),
            ("a JSON list", b"[1, 2]", 400),
            ("a JSON string", b'"ORDE_1"', 400),
            ("deeply nested JSON", b"[" * 20000 + b"]" * 20000, 400),
            ("no id", changed(id=DELETE), 400),
            ("id of a wrong type", changed(id=12345), 400),
            ("id of an unknown object", changed(id="QRCO_123"), 400),
            ("reference of a wrong type", changed(reference_id=["x"]), 400),
            ("charges not a list", changed(charges="PAID"), 400),
            ("charge not an object", changed(charges=["PAID"]), 400),
            ("charge without status", changed(charges__0__status=DELETE), 400),
            ("unknown status", changed(charges__0__status="STOLEN"), 400),
            ("status of a wrong type", changed(charges__0__status=1), 400),
            ("amount as text", changed(charges__0__amount__value="100,00"), 400),
            ("negative amount", changed(charges__0__amount__value=-10000), 400),
            ("amount as boolean", changed(charges__0__amount__value=True), 400),
            ("refunded as text", changed(charges__0__amount__summary__refunded="0"), 400),
            ("payment method as text", changed(charges__0__payment_method="BOLETO"), 400),
            (
                "bad boleto due date",
                changed(charges__0__payment_method__boleto__due_date="31/02"),
                400,
            ),
            ("links not a list", changed(charges__0__links="x"), 400),
            ("qr codes not a list", changed(qr_codes={"text": "x"}), 400),
            ("unknown reference", changed(reference_id="NOT-IN-ODOO", id="ORDE_UNKNOWN"), 404),
            (
                "charge of an unknown reference",
                json.dumps(
                    {**paid["charges"][0], "reference_id": "NOT-IN-ODOO", "id": "CHAR_UNKNOWN"}
                ).encode(),
                404,
            ),
            (
                "order of another transaction",
                changed(id=f"ORDE_{'0' * 32}"),
                400,
            ),
        ]
        with mute_logger("odoo.addons.payment_pagbank.controllers.main"):
            for name, body, status in cases:
                with self.subTest(name):
                    _body, headers = self.fake.notification({})
                    headers["x-authenticity-token"] = authenticity_token(TOKEN, body)
                    response = self.url_open("/payment/pagbank/webhook", data=body, headers=headers)
                    self.assertEqual(response.status_code, status)
                    self.assertEqual(tx.state, "pending")
                    self.assertEqual(tx.pagbank_order_id, waiting["id"])
        # the same notification, as PagBank sent it, is processed
        self.assertEqual(self._notify(paid).status_code, 200)
        self.assertEqual(tx.state, "done")

    def test_oversized_notification_is_refused_before_it_is_read(self):
        tx, _waiting = self._boleto_order()
        paid = self.fake.pay(tx.pagbank_order_id)
        paid["padding"] = "x" * const.NOTIFICATION_MAX_BYTES
        body, headers = self.fake.notification(paid)
        with mute_logger("odoo.addons.payment_pagbank.controllers.main"):
            # announced by its Content-Length
            response = self.url_open("/payment/pagbank/webhook", data=body, headers=headers)
            self.assertEqual(response.status_code, 413)
            # sent in chunks, without a Content-Length: refused before it is read, whatever size
            for size in (len(body), 1000):
                chunks = (body[i : i + 500] for i in range(0, size, 500))
                response = self.url_open("/payment/pagbank/webhook", data=chunks, headers=headers)
                self.assertEqual(response.status_code, 411)
        self.assertEqual(tx.state, "pending")
        # just under the limit it is processed
        del paid["padding"]
        self.assertEqual(self._notify(paid).status_code, 200)
        self.assertEqual(tx.state, "done")

    def test_check_at_pagbank_applies_a_missed_notification(self):
        tx, _waiting = self._boleto_order()
        self.fake.pay(tx.pagbank_order_id)
        tx.action_pagbank_refresh()
        self.assertEqual(tx.state, "done")
        self.assertEqual(
            self.fake.requests_to("GET", "/orders/")[-1]["path"], f"/orders/{tx.pagbank_order_id}"
        )


@tagged("post_install", "-at_install")
class TestPagBankRefunds(PagBankCase):
    def _paid_card_tx(self):
        tx = self._tx(amount=1234.56)
        tx._pagbank_create_order(encrypted_card="ENC-4111111111111111", holder_name="MARIA")
        tx._post_process()
        return tx

    def _refunds(self, tx):
        return tx.child_transaction_ids.filtered(lambda t: t.operation == "refund")

    def test_partial_refund_then_refund_in_the_panel(self):
        tx = self._paid_card_tx()
        refund = tx._send_refund_request(amount_to_refund=234.56)
        self.assertEqual(refund.state, "done")
        request = self.fake.requests_to("POST", "/charges/")[-1]
        self.assertEqual(request["path"], f"/charges/{tx.provider_reference}/cancel")
        self.assertEqual(request["body"], {"amount": {"value": 23456}})
        self.assertTrue(request["headers"].get("x-idempotency-key"))
        self.assertEqual(tx.pagbank_refunded_amount, 234.56)
        refund._post_process()
        self.assertEqual(refund.payment_id.amount, 234.56)
        self.assertEqual(refund.payment_id.payment_type, "outbound")

        # The rest is refunded in the PagBank panel; its notification creates the refund.
        charge = self.fake.refund_in_panel(tx.provider_reference, 100000)
        self.assertEqual(charge["status"], "CANCELED")
        self._notify(charge)
        self._notify(charge)  # duplicate
        order = self.fake.orders[tx.pagbank_order_id]
        stale = json.loads(json.dumps(order))
        stale["charges"][0]["amount"]["summary"]["refunded"] = 0  # late, older notification
        self._notify(stale)
        refunds = self._refunds(tx)
        self.assertEqual(sorted(refunds.mapped("amount")), [-1000.0, -234.56])
        self.assertTrue(all(r.state == "done" for r in refunds))
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.pagbank_refunded_amount, 1234.56)

    def test_refund_above_the_paid_amount_is_refused(self):
        tx = self._paid_card_tx()
        with self.assertRaisesRegex(ValidationError, "invalid value: amount"):
            tx._send_refund_request(amount_to_refund=2000.0)

    def test_refund_wizard_from_the_back_office(self):
        tx = self._paid_card_tx()
        wizard = (
            self.env["payment.refund.wizard"]
            .with_context(active_model="account.payment", active_id=tx.payment_id.id)
            .create({"amount_to_refund": 34.56})
        )
        wizard.action_refund()
        refund = self._refunds(tx)
        self.assertEqual(refund.amount, -34.56)
        self.assertEqual(refund.state, "done")


@tagged("post_install", "-at_install")
class TestPagBankPortal(PagBankCase):
    def test_invoice_payment_form_offers_pagbank(self):
        invoice = self.init_invoice(
            "out_invoice",
            partner=self.customer,
            amounts=[150.0],
            taxes=[],
            currency=self.brl,
            post=True,
        )
        url = invoice.get_portal_url(query_string="&payment=True")
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        self.assertIn("o_pagbank_card_form", response.text)
        self.assertIn('data-provider-code="pagbank"', response.text)
        self.assertIn('data-payment-method-code="pix"', response.text)
        self.assertIn('data-payment-method-code="boleto"', response.text)


@tagged("post_install", "-at_install")
class TestPagBankAlphanumericCnpj(PagBankCase):
    def test_customer_with_an_alphanumeric_cnpj_is_sent_unmasked_with_its_letters(self):
        # typed masked and in lower case; stored masked in capitals
        self.customer.write({"vat": "12.abc.345/01de-35", "country_id": self.env.ref("base.br").id})
        tx = self._tx(tokenize=True)
        tx._pagbank_create_order(encrypted_card="ENC-4111111111111111", holder_name="PADARIA")
        self.assertEqual(tx.state, "done")
        request = self.fake.requests_to("POST", "/orders")[-1]
        self.assertEqual(request["body"]["customer"]["tax_id"], "12ABC34501DE35")
        charge = request["body"]["charges"][0]
        self.assertEqual(charge["payment_method"]["holder"]["tax_id"], "12ABC34501DE35")

    def test_a_document_that_is_no_cpf_or_cnpj_is_refused_before_calling(self):
        self.customer.with_context(no_vat_validation=True).vat = "12.ABC.345/01DE-3X"
        tx = self._tx(tokenize=True)
        with self.assertRaises(ValidationError) as caught:
            tx._pagbank_create_order(encrypted_card="ENC-4111111111111111", holder_name="X")
        self.assertIn("Tax ID", str(caught.exception))
        self.assertFalse(self.fake.requests_to("POST", "/orders"))
