from odoo import _, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from odoo.addons.rbm_recurring.tools import check_staff_access

REFUND_GROUPS = ("account.group_account_manager", "rbm_recurring.rbm_recurring_group_manager")


class AccountPayment(models.Model):
    _inherit = "account.payment"

    rbm_pix_end_to_end_id = fields.Char(
        string="Pix End-to-End ID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The Pix payment (end-to-end ID) this payment records; it can be refunded.",
    )
    rbm_pix_connection_id = fields.Many2one(
        "rbm.pix.connection",
        string="Pix PSP Connection",
        readonly=True,
        copy=False,
        help="The PSP connection the Pix payment was received on.",
    )
    rbm_pix_refunded_amount = fields.Monetary(
        string="Pix Refunded",
        readonly=True,
        copy=False,
        help="Sum of this payment's Pix refunds that did not fail.",
    )
    rbm_pix_refund_ids = fields.One2many(
        "rbm.pix.refund", "payment_id", string="Pix Refunds", readonly=True
    )
    rbm_pix_refund_count = fields.Integer(compute="_compute_rbm_pix_refund_count")
    rbm_pix_can_refund = fields.Boolean(compute="_compute_rbm_pix_refund_count")

    _sql_constraints = [
        (
            "rbm_pix_refunded_within_amount",
            "CHECK(rbm_pix_refunded_amount IS NULL OR "
            "(rbm_pix_refunded_amount >= 0 AND rbm_pix_refunded_amount <= amount))",
            "The Pix refunds of a payment cannot exceed its amount.",
        ),
    ]

    def _compute_rbm_pix_refund_count(self):
        counts = dict(
            self.env["rbm.pix.refund"]
            .sudo()
            ._read_group([("payment_id", "in", self.ids)], ["payment_id"], ["__count"])
        )
        for payment in self:
            payment.rbm_pix_refund_count = counts.get(payment, 0)
            payment.rbm_pix_can_refund = payment._rbm_pix_is_refundable() and (
                payment.currency_id.compare_amounts(payment._rbm_pix_refundable_amount(), 0) > 0
            )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_rbm_pix_refund(self):
        """The *Devolver Pix* wizard for this payment."""
        self.ensure_one()
        self._rbm_pix_check_refund_rights()
        return {
            "type": "ir.actions.act_window",
            "name": _("Refund Pix"),
            "res_model": "rbm.pix.refund.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_payment_id": self.id},
        }

    def action_rbm_pix_view_refunds(self):
        self.ensure_one()
        check_staff_access(self, "read")
        return {
            "type": "ir.actions.act_window",
            "name": _("Pix Refunds"),
            "res_model": "rbm.pix.refund",
            "view_mode": "list,form",
            "domain": [("payment_id", "=", self.id)],
        }

    def _rbm_pix_check_refund_rights(self):
        """Only accounting managers and RBM managers refund, and only payments of their
        companies."""
        check_staff_access(self, "read")
        if self.env.su:
            return
        user = self.env.user
        if not any(user.has_group(group) for group in REFUND_GROUPS):
            raise AccessError(
                _(
                    "Only accounting managers and RBM managers may refund a Pix payment "
                    "(payment %(payment)s).",
                    payment=", ".join(self.mapped("display_name")),
                )
            )
        self.check_access("read")

    # ------------------------------------------------------------
    # PIX PAYMENT
    # ------------------------------------------------------------

    def _rbm_pix_mark_received(self, end_to_end_id, connection):
        """Record that these payments are the Pix payment ``end_to_end_id`` received on
        ``connection`` (what makes them refundable)."""
        self.sudo().write(
            {"rbm_pix_end_to_end_id": end_to_end_id, "rbm_pix_connection_id": connection.id}
        )

    def _rbm_pix_is_refundable(self):
        self.ensure_one()
        return bool(
            self.rbm_pix_end_to_end_id
            and self.state in ("in_process", "paid")
            and self.payment_type == "inbound"
            and self.partner_type == "customer"
        )

    def _rbm_pix_get_connection(self):
        self.ensure_one()
        connection = self.sudo().rbm_pix_connection_id
        if connection and connection.active:
            return connection
        return self.env["rbm.pix.connection"].sudo()._get_default_connection(self.company_id)

    def _rbm_pix_refundable_amount(self):
        self.ensure_one()
        return self.currency_id.round(self.amount - (self.rbm_pix_refunded_amount or 0.0))

    def _rbm_pix_lock_refundable(self):
        """Lock the payment's row and answer what is left to refund of it, as committed."""
        self.ensure_one()
        self.flush_recordset(["amount", "rbm_pix_refunded_amount"])
        self.env.cr.execute(
            SQL(
                "SELECT amount - COALESCE(rbm_pix_refunded_amount, 0) FROM account_payment "
                "WHERE id = %s FOR UPDATE",
                self.id,
            )
        )
        [(left,)] = self.env.cr.fetchall()
        return self.currency_id.round(float(left))

    def _rbm_pix_add_refunded(self, amount):
        """Add ``amount`` (negative: a refund that failed) to the refunded total."""
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "UPDATE account_payment "
                "SET rbm_pix_refunded_amount = COALESCE(rbm_pix_refunded_amount, 0) + %s "
                "WHERE id = %s",
                amount,
                self.id,
            )
        )
        self.invalidate_recordset(["rbm_pix_refunded_amount"])

    def _rbm_pix_counterpart_line(self):
        """The receivable line of the payment's entry."""
        self.ensure_one()
        return self.move_id.line_ids.filtered(
            lambda line: line.account_id == self.destination_account_id
        )[:1]

    def _rbm_pix_get_invoice(self):
        """The invoice the payment paid (the first one), or an empty recordset."""
        self.ensure_one()
        line = self._rbm_pix_counterpart_line()
        invoices = line.matched_debit_ids.debit_move_id.move_id.filtered(
            lambda move: move.is_invoice()
        )
        return (invoices or self.invoice_ids)[:1]
