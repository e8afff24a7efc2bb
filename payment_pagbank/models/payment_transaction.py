import logging
import re
import threading
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from werkzeug import urls

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import float_compare

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment_pagbank import const
from odoo.addons.payment_pagbank.models.payment_provider import (
    PagBankBadData,
    PagBankNotFound,
    PagBankUnanswered,
)

_logger = logging.getLogger(__name__)

WEBHOOK_ROUTE = "/payment/pagbank/webhook"


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    pagbank_order_id = fields.Char(
        string="PagBank Order",
        help="Identifier of the PagBank order (ORDE_...) created for this transaction.",
        readonly=True,
        copy=False,
    )
    pagbank_pix_qr_text = fields.Char(
        string="Pix Copy and Paste",
        help="The Pix code the customer pastes in a bank app (also shown as a QR code).",
        readonly=True,
        copy=False,
    )
    pagbank_pix_expires_at = fields.Datetime(string="Pix Valid Until", readonly=True, copy=False)
    pagbank_boleto_barcode = fields.Char(string="Boleto Digitable Line", readonly=True, copy=False)
    pagbank_boleto_due_date = fields.Date(string="Boleto Due Date", readonly=True, copy=False)
    pagbank_boleto_pdf_url = fields.Char(string="Boleto PDF", readonly=True, copy=False)
    pagbank_refunded_amount = fields.Monetary(
        string="Refunded at PagBank",
        help="Total PagBank reports as refunded on the charge of this transaction.",
        currency_field="currency_id",
        readonly=True,
        copy=False,
    )

    _sql_constraints = [
        (
            "pagbank_order_id_uniq",
            "unique(pagbank_order_id)",
            "A PagBank order belongs to one transaction only.",
        ),
    ]

    # === CRUD/PROCESSING VALUES === #

    @api.model
    def _get_specific_create_values(self, provider_code, values):
        """Override of `payment`: Pix and boleto are never saved as payment methods."""
        res = super()._get_specific_create_values(provider_code, values)
        if provider_code != "pagbank" or not values.get("payment_method_id"):
            return res
        method = self.env["payment.method"].browse(values["payment_method_id"])
        if self._pagbank_method_code(method) != "card":
            res["tokenize"] = False
        return res

    def _get_specific_processing_values(self, processing_values):
        """Override of `payment` to return the access token checked by the payment route."""
        res = super()._get_specific_processing_values(processing_values)
        if self.provider_code != "pagbank":
            return res
        return {
            "pagbank_access_token": payment_utils.generate_access_token(
                processing_values["reference"], processing_values["partner_id"]
            ),
        }

    def _get_specific_secret_keys(self):
        """Override of `payment` to keep the access token out of the logs."""
        res = super()._get_specific_secret_keys()
        if self.provider_code != "pagbank":
            return res
        return {"pagbank_access_token": None}.keys() | set(res)

    # === HELPERS === #

    @api.model
    def _pagbank_method_code(self, method):
        """Return "card", "pix" or "boleto" for a payment method (a card brand is a card)."""
        code = method.primary_payment_method_id.code or method.code
        if code in const.CARD_METHOD_CODES:
            return "card"
        return code

    def _pagbank_to_cents(self, amount):
        """Amount in the currency's minor unit, exact to the cent."""
        rounded = Decimal(str(self.currency_id.round(amount)))
        return int((rounded * 100).to_integral_value(rounding=ROUND_HALF_UP))

    def _pagbank_from_cents(self, cents):
        return self.currency_id.round(int(cents or 0) / 100)

    def _pagbank_lock(self):
        """Lock the transactions' rows until commit: a notification and a refund of the same
        transaction (or two notifications) are processed one after the other."""
        if self.ids:
            self.env.cr.execute(
                "SELECT id FROM payment_transaction WHERE id IN %s FOR NO KEY UPDATE",
                [tuple(self.ids)],
            )

    def _pagbank_partner(self):
        return self.partner_id.commercial_partner_id

    def _pagbank_get_tax_id(self):
        partner = self._pagbank_partner()
        # a CPF (11 digits) or a CNPJ (14 characters: since July 2026 the
        # first 12 may be letters A-Z, the alphanumeric CNPJ), without its mask
        tax_id = re.sub(r"[\s./-]", "", partner.vat or "").upper()
        if not re.fullmatch(r"[0-9]{11}|[0-9A-Z]{12}[0-9]{2}", tax_id):
            raise ValidationError(
                _(
                    "The customer %(partner)s has no valid CPF/CNPJ in the field Tax ID; "
                    "PagBank requires it for every payment.",
                    partner=partner.display_name,
                )
            )
        return tax_id

    def _pagbank_get_email(self):
        email = self.partner_email or self._pagbank_partner().email
        if not email:
            raise ValidationError(
                _(
                    "The customer %(partner)s has no email address (field Email); PagBank "
                    "requires it for every payment.",
                    partner=self._pagbank_partner().display_name,
                )
            )
        return email

    def _pagbank_description(self):
        return _("Payment %(reference)s", reference=self.reference)[:64]

    def _pagbank_get_address(self):
        """The billing address in PagBank's format (boleto holder)."""
        partner = self._pagbank_partner()
        missing = [
            label
            for label, value in (
                (_("Street"), partner.street),
                (_("City"), partner.city),
                (_("State"), partner.state_id),
                (_("ZIP"), partner.zip),
            )
            if not value
        ]
        postal_code = re.sub(r"\D", "", partner.zip or "")
        if not missing and len(postal_code) != 8:
            missing.append(_("ZIP"))
        if missing:
            raise ValidationError(
                _(
                    "The address of the customer %(partner)s is incomplete for a boleto "
                    "(fields: %(fields)s).",
                    partner=partner.display_name,
                    fields=", ".join(missing),
                )
            )
        street, _sep, number = partner.street.rpartition(",")
        if not street or not number.strip():
            street, number = partner.street, _("S/N")
        return {
            "street": street.strip()[:160],
            "number": number.strip()[:20],
            "locality": (partner.street2 or partner.city)[:60],
            "city": partner.city[:90],
            "region": partner.state_id.name[:50],
            "region_code": partner.state_id.code[:2],
            "country": "Brasil",
            "postal_code": postal_code,
        }

    def _pagbank_prepare_order_payload(self, **extra):
        """The `POST /orders` body shared by every payment method (Objeto Order)."""
        self.ensure_one()
        base_url = self.provider_id.get_base_url()
        return {
            "reference_id": self.reference,
            "customer": {
                "name": (self.partner_name or self._pagbank_partner().name or "")[:120],
                "email": self._pagbank_get_email(),
                "tax_id": self._pagbank_get_tax_id(),
            },
            "items": [
                {
                    "reference_id": self.reference,
                    "name": self._pagbank_description(),
                    "quantity": 1,
                    "unit_amount": self._pagbank_to_cents(self.amount),
                }
            ],
            "notification_urls": [urls.url_join(base_url, WEBHOOK_ROUTE)],
            **extra,
        }

    def _pagbank_prepare_charge(self, payment_method, recurring=None):
        charge = {
            "reference_id": self.reference,
            "description": self._pagbank_description(),
            "amount": {
                "value": self._pagbank_to_cents(self.amount),
                "currency": self.currency_id.name,
            },
            "payment_method": payment_method,
        }
        if recurring:
            charge["recurring"] = {"type": recurring}
        return charge

    def _pagbank_prepare_card_payment_method(self, card, holder_name=None):
        holder = {"tax_id": self._pagbank_get_tax_id()}
        if holder_name:
            holder["name"] = holder_name[:30]
        return {
            "type": "CREDIT_CARD",
            "installments": 1,
            "capture": True,
            "card": card,
            "holder": holder,
        }

    def _pagbank_prepare_direct_payload(self, encrypted_card=None, holder_name=None):
        """The order of a payment made on the payment form: card, Pix or boleto."""
        method = self._pagbank_method_code(self.payment_method_id)
        if method == "card":
            if not encrypted_card:
                raise ValidationError(_("The card data are missing."))
            card = {"encrypted": encrypted_card}
            if self.tokenize:
                card["store"] = True
            charge = self._pagbank_prepare_charge(
                self._pagbank_prepare_card_payment_method(card, holder_name),
                recurring="INITIAL" if self.tokenize else None,
            )
            return self._pagbank_prepare_order_payload(charges=[charge])
        if method == "pix":
            minutes = self.provider_id.pagbank_pix_expiration_minutes or 1440
            expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=minutes)
            return self._pagbank_prepare_order_payload(
                qr_codes=[
                    {
                        "amount": {"value": self._pagbank_to_cents(self.amount)},
                        "expiration_date": expires.isoformat(),
                    }
                ]
            )
        if method == "boleto":
            due_date = fields.Date.context_today(self) + timedelta(
                days=self.provider_id.pagbank_boleto_due_days or 3
            )
            partner = self._pagbank_partner()
            boleto = {
                "due_date": due_date.isoformat(),
                "instruction_lines": {
                    "line_1": _("Payment %(reference)s", reference=self.reference)[:75],
                    "line_2": (self.company_id.name or "")[:75],
                },
                "holder": {
                    "name": (partner.name or "")[:120],
                    "tax_id": self._pagbank_get_tax_id(),
                    "email": self._pagbank_get_email(),
                    "address": self._pagbank_get_address(),
                },
            }
            charge = self._pagbank_prepare_charge({"type": "BOLETO", "boleto": boleto})
            return self._pagbank_prepare_order_payload(charges=[charge])
        raise ValidationError(
            _(
                "The payment method %(method)s is not offered by PagBank.",
                method=self.payment_method_id.name,
            )
        )

    # === BUSINESS METHODS - PAYMENT FLOWS === #

    def _pagbank_create_order(self, encrypted_card=None, holder_name=None):
        """Create the PagBank order of a payment made on the payment form and process the answer.

        Card: the card is encrypted in the customer's browser (the PagBank SDK and the public
        key of the account) and saved at PagBank when the customer asked for it. Pix: a QR code
        and its copy-and-paste text. Boleto: the digitable line and the PDF.
        """
        self.ensure_one()
        if self.provider_code != "pagbank":
            return
        if self.state != "draft" or self.pagbank_order_id:
            raise ValidationError(
                _("The payment %(reference)s was already sent.", reference=self.reference)
            )
        response = self._pagbank_send_order(
            self._pagbank_prepare_direct_payload(encrypted_card, holder_name)
        )
        if response is not None:
            self._handle_notification_data("pagbank", response)

    def _pagbank_send_order(self, payload):
        """Create the order of this transaction at PagBank, under the transaction's idempotency
        key, and return PagBank's answer; ``None`` when PagBank did not answer. PagBank may have
        applied the order (charged the card) all the same: the transaction then waits, pending,
        for its notification, rather than let the customer pay again with another transaction
        (and another idempotency key)."""
        try:
            return self.provider_id._pagbank_make_request(
                "/orders",
                payload=payload,
                idempotency_key=payment_utils.generate_idempotency_key(self, scope="pagbank_order"),
            )
        except PagBankUnanswered as error:
            self._set_pending(state_message=error.args[0])
            return None

    def _send_payment_request(self):
        """Override of `payment` to charge a saved card (payment by token, online or offline).

        An unanswered request leaves the transaction pending until PagBank's notification (the
        request carries an idempotency key, so a retry never charges twice). An offline charge
        (e.g. the automatic charge of a subscription invoice) never raises: a refusal puts the
        transaction in error with PagBank's reason.
        """
        super()._send_payment_request()
        if self.provider_code != "pagbank":
            return
        if not self.token_id:
            raise UserError(_("The transaction is not linked to a saved card."))
        try:
            card_method = self._pagbank_prepare_card_payment_method(
                {"id": self.token_id.provider_ref}, self.token_id.pagbank_holder_name
            )
            payload = self._pagbank_prepare_order_payload(
                charges=[self._pagbank_prepare_charge(card_method, recurring="SUBSEQUENT")]
            )
            response = self._pagbank_send_order(payload)
        except ValidationError as error:
            if self.operation != "offline":
                raise
            self._set_error(error.args[0])
            return
        if response is not None:
            self._handle_notification_data("pagbank", response)

    def _send_refund_request(self, amount_to_refund=None):
        """Override of `payment` to refund (part of) a PagBank charge: POST /charges/{id}/cancel.

        The refund is confirmed from the total PagBank reports as refunded on the charge, so a
        retried request or a late notification never confirms it twice.
        """
        if self.provider_code == "pagbank":
            self._pagbank_lock()
            if not self.provider_reference:
                raise UserError(
                    _(
                        "The transaction %(reference)s has no PagBank charge to refund.",
                        reference=self.reference,
                    )
                )
        refund_tx = super()._send_refund_request(amount_to_refund=amount_to_refund)
        if self.provider_code != "pagbank":
            return refund_tx
        response = self.provider_id._pagbank_make_request(
            f"/charges/{self.provider_reference}/cancel",
            payload={"amount": {"value": refund_tx._pagbank_to_cents(-refund_tx.amount)}},
            idempotency_key=payment_utils.generate_idempotency_key(
                refund_tx, scope="pagbank_cancel"
            ),
        )
        self._pagbank_sync_refunds(response)
        return refund_tx

    def action_pagbank_refresh(self):
        """Ask PagBank for the current state of the order (e.g. a missed notification).
        A back-office button: staff only (a customer waits for the notification)."""
        self.ensure_one()
        if not self.env.su and not self.env.user._is_internal():
            raise AccessError(
                _(
                    "Only staff can ask PagBank for the state of transaction %(reference)s.",
                    reference=self.reference,
                )
            )
        self.check_access("write")
        if self.provider_code != "pagbank" or not self.pagbank_order_id:
            raise UserError(_("This transaction has no PagBank order."))
        self._pagbank_lock()
        response = self.provider_id._pagbank_make_request(
            f"/orders/{self.pagbank_order_id}", method="GET"
        )
        self._handle_notification_data("pagbank", response)
        return True

    def _pagbank_find_order(self):
        """Resolve a transaction whose order request got no answer (no order id): look its order
        up at PagBank by reference (GET /orders?reference_id=...) and apply it. When PagBank has
        no order with this reference, nothing was charged: the transaction is canceled, so that
        the payment can be asked again with a new transaction. Never sends the order again."""
        self.ensure_one()
        self._pagbank_lock()
        try:
            response = self.provider_id._pagbank_make_request(
                "/orders", payload={"reference_id": self.reference}, method="GET"
            )
        except PagBankNotFound:
            # not an answer about this payment (the look-up itself was not
            # found): cancelling could drop a charge that went through, so
            # the transaction waits, pending, for staff to check it
            if not self.state_message or "could not be looked up" not in self.state_message:
                self.state_message = _(
                    "Payment %(reference)s could not be looked up at PagBank by its reference: "
                    "check it in the PagBank account before charging again.",
                    reference=self.reference,
                )
            return
        orders = response.get("orders")
        if not isinstance(orders, list):
            raise PagBankBadData(
                _("PagBank data refused: unexpected value for %(field)s.", field="orders")
            )
        orders = [
            order
            for order in orders
            if isinstance(order, dict) and order.get("reference_id") == self.reference
        ]
        if not orders:
            self._set_canceled(
                _(
                    "PagBank has no order for the payment %(reference)s: nothing was charged.",
                    reference=self.reference,
                )
            )
            return
        if len(orders) > 1:
            _logger.warning(
                "PagBank has %s orders for %s; applying the last one", len(orders), self.reference
            )
        self._handle_notification_data("pagbank", orders[-1])

    @api.model
    def _cron_pagbank_check_pending(self, batch_size=50, min_age_minutes=15):
        """Ask PagBank about transactions pending for a while and cancel the Pix QR codes that
        expired unpaid: an order is read again (a missed notification); an order request that got
        no answer (no order id) is looked up by reference, never sent again.

        Each transaction is checked in its own savepoint and committed on its own: a failure
        (PagBank unreachable, bad data, a bug) leaves that transaction pending for the next run
        and never rolls back nor blocks the others. The requests are GETs, so a run killed before
        its commit loses nothing and changes nothing at PagBank when repeated.
        """
        domain = [
            ("provider_code", "=", "pagbank"),
            ("state", "=", "pending"),
            ("operation", "!=", "refund"),
            ("last_state_change", "<", fields.Datetime.now() - timedelta(minutes=min_age_minutes)),
        ]
        txs = self.search(domain, order="last_state_change, id", limit=batch_size + 1)
        remaining = max(len(txs) - batch_size, 0)
        txs = txs[:batch_size]
        done = 0
        for tx in txs:
            try:
                with self.env.cr.savepoint():
                    tx._pagbank_lock()
                    if tx.pagbank_order_id:
                        tx.action_pagbank_refresh()
                    else:
                        tx._pagbank_find_order()
                    tx._pagbank_cancel_expired_pix()
            except (UserError, ValidationError) as error:
                _logger.warning("PagBank: could not check %s: %s", tx.reference, error)
            except Exception:
                _logger.exception("PagBank: could not check %s", tx.reference)
            done += 1
            self._pagbank_commit()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if remaining:
            self.env.ref("payment_pagbank.cron_check_pending")._trigger()

    @api.model
    def _pagbank_commit(self):
        """Commit what the check cron did so far (not in tests, which run in one transaction)."""
        if not getattr(threading.current_thread(), "testing", False):
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _pagbank_cancel_expired_pix(self):
        """Cancel a Pix transaction whose QR code expired (30 minutes ago) without being paid.

        Should PagBank still report it paid later, the PAID notification confirms it anyway.
        """
        self.ensure_one()
        if (
            self.state == "pending"
            and self.pagbank_pix_expires_at
            and self.pagbank_pix_expires_at < fields.Datetime.now() - timedelta(minutes=30)
            and not self.provider_reference
        ):
            self._set_canceled(_("The Pix QR code expired without being paid."))

    # === BUSINESS METHODS - NOTIFICATIONS === #

    @api.model
    def _pagbank_check_notification_data(self, data):
        """Refuse (`PagBankBadData`) data that is not an order or a charge as PagBank documents
        them: missing id or status, a value of the wrong type, an unknown status.

        Checked before anything is looked up or written, so that bad data changes nothing.
        """

        def refuse(field):
            raise PagBankBadData(
                self.env._("PagBank data refused: unexpected value for %(field)s.", field=field)
            )

        def check_dict(value, field, required=False):
            if value is None and not required:
                return {}
            if not isinstance(value, dict):
                refuse(field)
            return value

        def check_list(value, field):
            if value is None:
                return []
            if not isinstance(value, list):
                refuse(field)
            return value

        def check_text(value, field, required=False, max_length=200):
            if value is None and not required:
                return
            if not isinstance(value, str) or not value or len(value) > max_length:
                refuse(field)

        def check_int(value, field):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                refuse(field)

        def check_charge(charge, field):
            check_dict(charge, field, required=True)
            check_text(charge.get("id"), f"{field}.id", max_length=64)
            check_text(charge.get("reference_id"), f"{field}.reference_id")
            if charge.get("status") not in const.CHARGE_STATUSES:
                refuse(f"{field}.status")
            amount = check_dict(charge.get("amount"), f"{field}.amount")
            check_int(amount.get("value"), f"{field}.amount.value")
            summary = check_dict(amount.get("summary"), f"{field}.amount.summary")
            for key in ("total", "paid", "refunded"):
                check_int(summary.get(key), f"{field}.amount.summary.{key}")
            check_dict(charge.get("payment_response"), f"{field}.payment_response")
            method = check_dict(charge.get("payment_method"), f"{field}.payment_method")
            card = check_dict(method.get("card"), f"{field}.payment_method.card")
            check_text(card.get("id"), f"{field}.payment_method.card.id", max_length=64)
            check_text(card.get("brand"), f"{field}.payment_method.card.brand", max_length=64)
            check_text(
                card.get("last_digits"), f"{field}.payment_method.card.last_digits", max_length=4
            )
            check_dict(card.get("holder"), f"{field}.payment_method.card.holder")
            boleto = check_dict(method.get("boleto"), f"{field}.payment_method.boleto")
            for key in ("barcode", "formatted_barcode", "due_date"):
                check_text(boleto.get(key), f"{field}.payment_method.boleto.{key}")
            if boleto.get("due_date"):
                try:
                    fields.Date.from_string(boleto["due_date"])
                except ValueError:
                    refuse(f"{field}.payment_method.boleto.due_date")
            for index, link in enumerate(check_list(charge.get("links"), f"{field}.links")):
                check_dict(link, f"{field}.links[{index}]", required=True)
                check_text(link.get("href"), f"{field}.links[{index}].href", max_length=2000)

        check_dict(data, "body", required=True)
        object_id = data.get("id")
        check_text(object_id, "id", required=True, max_length=64)
        if not object_id.startswith(("ORDE_", "CHAR_")):
            refuse("id")
        check_text(data.get("reference_id"), "reference_id")
        if object_id.startswith("CHAR_"):
            check_charge(data, "charge")
            return
        for index, charge in enumerate(check_list(data.get("charges"), "charges")):
            check_charge(charge, f"charges[{index}]")
        for index, qr_code in enumerate(check_list(data.get("qr_codes"), "qr_codes")):
            check_dict(qr_code, f"qr_codes[{index}]", required=True)
            check_text(qr_code.get("text"), f"qr_codes[{index}].text", max_length=1000)
            check_text(
                qr_code.get("expiration_date"), f"qr_codes[{index}].expiration_date", max_length=64
            )

    def _get_tx_from_notification_data(self, provider_code, notification_data):
        """Override of `payment` to find the transaction of a PagBank order or charge.

        The data is checked first (`PagBankBadData`); no matching transaction raises
        `PagBankNotFound`."""
        if provider_code == "pagbank":
            self._pagbank_check_notification_data(notification_data)
        tx = super()._get_tx_from_notification_data(provider_code, notification_data)
        if provider_code != "pagbank" or len(tx) == 1:
            return tx
        object_id = notification_data.get("id") or ""
        reference = notification_data.get("reference_id")
        domain = [("provider_code", "=", "pagbank"), ("operation", "!=", "refund")]
        tx = self.env["payment.transaction"]
        if reference:
            tx = self.search([*domain, ("reference", "=", reference)])
        if not tx and object_id.startswith("ORDE_"):
            tx = self.search([*domain, ("pagbank_order_id", "=", object_id)])
        if not tx and object_id.startswith("CHAR_"):
            tx = self.search([*domain, ("provider_reference", "=", object_id)])
        if not tx:
            raise PagBankNotFound(
                _(
                    "No transaction found matching reference %(reference)s.",
                    reference=reference or object_id,
                )
            )
        return tx

    def _process_notification_data(self, notification_data):
        """Override of `payment` to apply a PagBank order or charge (API answer or notification).

        Idempotent and order-independent: the state only moves forward (Odoo refuses, e.g., a
        late WAITING after PAID), a confirmed transaction is confirmed once, and refunds follow
        the total refunded that PagBank reports.
        """
        super()._process_notification_data(notification_data)
        if self.provider_code != "pagbank":
            return
        object_id = notification_data.get("id") or ""
        if object_id.startswith("ORDE_"):
            if self.pagbank_order_id and self.pagbank_order_id != object_id:
                raise ValidationError(
                    _(
                        "The order %(order)s does not belong to the transaction %(reference)s.",
                        order=object_id,
                        reference=self.reference,
                    )
                )
            self.pagbank_order_id = object_id
            charges = notification_data.get("charges") or []
        elif object_id.startswith("CHAR_"):
            charges = [notification_data]
        else:
            raise ValidationError(_("Received data with an unknown object."))

        qr_code = (notification_data.get("qr_codes") or [None])[0]
        if qr_code:
            self._pagbank_store_qr_code(qr_code)
        if not charges:
            if qr_code and self.state == "draft":
                self._set_pending()  # The Pix is waiting for the customer.
            return

        charge = charges[-1]
        self._pagbank_apply_charge(charge)

    def _pagbank_store_qr_code(self, qr_code):
        values = {"pagbank_pix_qr_text": qr_code.get("text")}
        expiration = qr_code.get("expiration_date")
        if expiration:
            try:
                moment = datetime.fromisoformat(expiration)
            except ValueError:
                moment = None
            if moment:
                if moment.tzinfo:
                    moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
                values["pagbank_pix_expires_at"] = moment
        self.write(values)

    def _pagbank_apply_charge(self, charge):
        status = charge.get("status")
        if not status:
            raise ValidationError(_("Received data with missing status."))
        if self.operation != "refund" and charge.get("id"):
            if self.provider_reference and self.provider_reference != charge["id"]:
                # A new charge of the same order (e.g. a second try): keep the latest.
                _logger.info(
                    "PagBank charge %s replaces %s on %s",
                    charge["id"],
                    self.provider_reference,
                    self.reference,
                )
            self.provider_reference = charge["id"]
        payment_method = charge.get("payment_method") or {}
        self._pagbank_store_boleto(payment_method.get("boleto"), charge.get("links") or ())
        self._pagbank_update_card_method(payment_method.get("card"))

        amount = (charge.get("amount") or {}).get("value")
        if (
            amount is not None
            and int(amount) != self._pagbank_to_cents(self.amount)
            and status in const.CHARGE_STATUS_MAPPING["done"]
        ):
            self._set_error(
                _(
                    "PagBank reports %(paid)s paid instead of %(expected)s.",
                    paid=self._pagbank_from_cents(amount),
                    expected=self.amount,
                )
            )
            return

        if self.state == "done":
            if status in ("PAID", "CANCELED"):
                self._pagbank_sync_refunds(charge)
            else:
                _logger.info(
                    "PagBank: ignored late status %s for confirmed transaction %s",
                    status,
                    self.reference,
                )
            return

        if status in const.CHARGE_STATUS_MAPPING["pending"]:
            self._set_pending()
        elif status in const.CHARGE_STATUS_MAPPING["done"]:
            self._pagbank_tokenize(charge)
            # Money received is always recorded, even on a transaction canceled meanwhile.
            if self._set_done(extra_allowed_states=("cancel",)):
                self.env.ref("payment.cron_post_process_payment_tx")._trigger()
        elif status in const.CHARGE_STATUS_MAPPING["canceled"]:
            self._set_canceled(_("PagBank canceled the charge."))
        elif status in const.CHARGE_STATUS_MAPPING["error"]:
            response = charge.get("payment_response") or {}
            _logger.warning(
                "PagBank declined %s: code %s, %s",
                self.reference,
                response.get("code"),
                response.get("message"),
            )
            self._set_error(
                _(
                    "PagBank declined the payment: %(message)s (code %(code)s).",
                    message=response.get("message") or _("no reason given"),
                    code=response.get("code") or "-",
                )
            )
        else:
            _logger.warning("PagBank: unknown status %s for %s", status, self.reference)
            self._set_error(_("Received data with invalid status: %(status)s", status=status))

    def _pagbank_pix_qr_src(self):
        """URL of the Pix QR code image, drawn by Odoo from the copy-and-paste text."""
        self.ensure_one()
        return "/report/barcode/?" + urls.url_encode(
            {"barcode_type": "QR", "value": self.pagbank_pix_qr_text, "width": 220, "height": 220}
        )

    def _pagbank_store_boleto(self, boleto, links=()):
        if not boleto:
            return
        values = {
            "pagbank_boleto_barcode": boleto.get("formatted_barcode") or boleto.get("barcode"),
        }
        pdf = [link.get("href") for link in links if link.get("media") == "application/pdf"]
        if pdf:
            values["pagbank_boleto_pdf_url"] = pdf[0]
        if boleto.get("due_date"):
            values["pagbank_boleto_due_date"] = boleto["due_date"]
        self.write(values)

    def _pagbank_update_card_method(self, card):
        brand = (card or {}).get("brand")
        code = const.CARD_BRANDS.get((brand or "").lower())
        if not code:
            return
        method = (
            self.env["payment.method"]
            .with_context(active_test=False)
            .search([("code", "=", code)], limit=1)
        )
        if method:
            self.payment_method_id = method

    def _pagbank_tokenize(self, charge):
        """Save the card PagBank stored for this payment (`card.store`) as a payment token."""
        card = (charge.get("payment_method") or {}).get("card") or {}
        if not self.tokenize or not card.get("id"):
            return
        token = self.env["payment.token"].create(
            {
                "provider_id": self.provider_id.id,
                "payment_method_id": self.payment_method_id.id,
                "payment_details": card.get("last_digits") or "",
                "partner_id": self.partner_id.id,
                "provider_ref": card["id"],
                "pagbank_holder_name": (card.get("holder") or {}).get("name"),
            }
        )
        self.write({"token_id": token.id, "tokenize": False})
        _logger.info(
            "Saved PagBank card as token %s for partner %s (transaction %s)",
            token.id,
            self.partner_id.id,
            self.reference,
        )

    def _pagbank_sync_refunds(self, charge):
        """Bring the refunds of this transaction to the total PagBank reports as refunded.

        Refund transactions waiting for PagBank are confirmed first (oldest first); whatever
        remains was refunded from the PagBank panel and gets a refund transaction of its own. A
        total lower than the one already confirmed (a late notification) changes nothing.
        """
        self.ensure_one()
        summary = (charge.get("amount") or {}).get("summary") or {}
        if summary.get("refunded") is None:
            return
        refunded = self._pagbank_from_cents(summary["refunded"])
        refunds = self.child_transaction_ids.filtered(lambda t: t.operation == "refund")
        confirmed = -sum(refunds.filtered(lambda t: t.state == "done").mapped("amount"))
        missing = self.currency_id.round(refunded - confirmed)
        if float_compare(refunded, self.pagbank_refunded_amount, 2) > 0:
            self.pagbank_refunded_amount = refunded
        if self.currency_id.compare_amounts(missing, 0) <= 0:
            return
        for refund in refunds.filtered(lambda t: t.state in ("draft", "pending")).sorted("id"):
            if self.currency_id.compare_amounts(-refund.amount, missing) <= 0:
                refund.provider_reference = charge.get("id")
                refund._set_done()
                missing = self.currency_id.round(missing + refund.amount)
        if self.currency_id.compare_amounts(missing, 0) > 0:
            refund = self._create_child_transaction(
                missing, is_refund=True, provider_reference=charge.get("id")
            )
            refund._set_done(state_message=_("Refund made in the PagBank panel."))
        self.env.ref("payment.cron_post_process_payment_tx")._trigger()
