import base64
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import sql

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import pix
from .rbm_boleto import _decimal

TXID_PREFIX = "RBM"


class AccountMove(models.Model):
    _inherit = "account.move"

    rbm_pix_txid = fields.Char(
        string="Pix Transaction ID",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Identifies the Pix paying this invoice (txid): bank statement lines carrying it "
        "are reconciled with the invoice.",
    )
    rbm_pix_payload = fields.Char(
        string="Pix Copy and Paste",
        copy=False,
        readonly=True,
        help="Pix BR Code of the invoice amount with its transaction ID.",
    )

    def init(self):
        super().init()
        if not sql.index_exists(self.env.cr, "account_move_rbm_pix_txid_uniq"):
            self.env.cr.execute(
                """
                CREATE UNIQUE INDEX account_move_rbm_pix_txid_uniq
                    ON account_move (company_id, rbm_pix_txid)
                 WHERE rbm_pix_txid IS NOT NULL
                """
            )

    @api.depends("rbm_pix_payload", "rbm_boleto_ids")
    def _compute_display_qr_code(self):
        super()._compute_display_qr_code()
        # an invoice with its own Pix code (txid for the reconciliation) or
        # boletos (each with its Pix QR) does not print a second, generic QR
        self.filtered(lambda m: m.rbm_pix_payload or m.rbm_boleto_ids).display_qr_code = False

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted._rbm_issue_pix()
        return posted

    def _rbm_wants_pix(self):
        self.ensure_one()
        return self.move_type == "out_invoice" and self.rbm_contract_id.payment_mode == "pix"

    def _rbm_issue_pix(self, force=False):
        """Give the posted customer invoices paid by Pix (every one with
        ``force``) a transaction ID and a BR Code for their amount due. The
        key is the Pix key of the invoice's collection account."""
        moves = self.filtered(
            lambda m: (
                m.state == "posted"
                and m.move_type == "out_invoice"
                and not m.rbm_pix_payload
                and (force or m._rbm_wants_pix())
            )
        )
        if not moves:
            return moves
        Account = self.env["rbm.collection.account"].sudo()
        defaults = {}
        for account in Account.search(
            [("company_id", "in", moves.company_id.ids), ("pix_key", "!=", False)],
            order="sequence, id",
        ):
            defaults.setdefault(account.company_id, account)
        issued = self.env["account.move"]
        for move in moves:
            account = move._rbm_get_collection_account(defaults)
            if not account or not account.pix_key:
                account = defaults.get(move.company_id)
            reason = move._rbm_pix_refusal(account)
            if reason:
                if force:
                    raise UserError(reason)
                move.message_post(body=reason)
                continue
            txid = move.rbm_pix_txid or _new_txid()
            move.sudo().write(
                {
                    "rbm_collection_account_id": move.rbm_collection_account_id.id or account.id,
                    "rbm_pix_txid": txid,
                    "rbm_pix_payload": account.sudo()._get_pix_payload(
                        _decimal(move.amount_residual, move.currency_id), txid
                    ),
                }
            )
            issued |= move
        return issued

    def _rbm_pix_refusal(self, account):
        """Why no Pix code can be issued for this invoice with ``account``
        (what to configure), or False."""
        self.ensure_one()
        if self.currency_id.name != "BRL":
            return _(
                "No Pix code was issued for invoice %(invoice)s: Pix charges only amounts in "
                "reais, and the invoice is in %(currency)s.",
                invoice=self.display_name,
                currency=self.currency_id.name,
            )
        if self.amount_residual <= 0:
            return _(
                "No Pix code was issued for invoice %(invoice)s: nothing is left to pay on it.",
                invoice=self.display_name,
            )
        if not account:
            return _(
                "No Pix code was issued for invoice %(invoice)s: company %(company)s has no "
                "collection account with a Pix key. Add one in Subscriptions › Collection › "
                "Collection Accounts (field Pix Key).",
                invoice=self.display_name,
                company=self.company_id.name,
            )
        return False

    def action_rbm_issue_pix(self):
        """Issue the Pix code of posted customer invoices (button)."""
        check_staff_access(self, "read")
        self._rbm_issue_pix(force=True)

    def _rbm_get_pix_qr_image(self, size=400):
        """Pix QR code as a PNG data URI."""
        self.ensure_one()
        if not self.rbm_pix_payload:
            return False
        png = self.env["ir.actions.report"].barcode(
            "QR", self.rbm_pix_payload, width=size, height=size, barLevel="M", quiet=0
        )
        return "data:image/png;base64," + base64.b64encode(png).decode()

    def _rbm_show_pix(self):
        """Whether the customer is offered the invoice's Pix code."""
        self.ensure_one()
        return bool(self.rbm_pix_payload) and self.payment_state in ("not_paid", "partial")


def _new_txid():
    """25 letters and digits (the most a static BR Code carries), random
    after a fixed prefix so that statement texts are easy to search."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    size = pix.MAX_TXID - len(TXID_PREFIX)
    return TXID_PREFIX + "".join(secrets.choice(alphabet) for _i in range(size))
