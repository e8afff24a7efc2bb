from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.rbm_recurring.tools import check_staff_access

from .rbm_boleto import ACTIVE_STATES, PAYABLE_STATES


class AccountMove(models.Model):
    _inherit = "account.move"

    rbm_collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        copy=False,
        check_company=True,
        help="Boletos of this invoice are issued on this account when it is posted. "
        "Contract invoices paid by boleto use the contract's (or the company's first) account.",
    )
    rbm_boleto_ids = fields.One2many("rbm.boleto", "move_id", string="Boletos")
    rbm_boleto_count = fields.Integer(string="Boleto Count", compute="_compute_rbm_boleto_count")
    rbm_boleto_pdf_id = fields.Many2one(
        "ir.attachment",
        string="Boleto PDF",
        copy=False,
        readonly=True,
        help="The printed boletos, attached to the invoice email.",
    )
    rbm_legal_collection = fields.Boolean(
        string="In Protest / Legal Collection",
        copy=False,
        tracking=True,
        groups="rbm_recurring.rbm_recurring_group_user,account.group_account_invoice",
        help="The invoice was sent to protest or legal collection: its customer's collection "
        "status is In legal collection / protest until it is paid.",
    )

    @api.depends("rbm_boleto_ids")
    def _compute_rbm_boleto_count(self):
        counts = dict(
            self.env["rbm.boleto"]._read_group(
                [("move_id", "in", self.ids)], ["move_id"], ["__count"]
            )
        )
        for move in self:
            move.rbm_boleto_count = counts.get(move, 0)

    # ------------------------------------------------------------
    # POSTING AND CANCELLING
    # ------------------------------------------------------------

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted._rbm_issue_boletos(automatic=True)
        return posted

    def button_draft(self):
        # rights first: the boletos are written off as superuser
        check_staff_access(self, "write")
        # button_cancel resets posted invoices through here
        self._rbm_write_off_boletos()
        return super().button_draft()

    def _rbm_write_off_boletos(self):
        boletos = self.sudo().rbm_boleto_ids.filtered(lambda b: b.state in ACTIVE_STATES)
        if boletos:
            boletos._write_off()
            boletos.move_id._rbm_reset_boleto_pdf()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_rbm_issue_boletos(self):
        """Issue the boletos of posted customer invoices (button)."""
        check_staff_access(self, "read")
        invalid = self.filtered(lambda m: m.state != "posted" or m.move_type != "out_invoice")
        if invalid:
            raise UserError(
                _(
                    "Boletos are issued for posted customer invoices only (%(moves)s).",
                    moves=", ".join(invalid.mapped("display_name")),
                )
            )
        boletos = self._rbm_issue_boletos(automatic=False)
        if not boletos:
            raise UserError(_("Every open installment of these invoices already has a boleto."))
        return self.action_rbm_view_boletos()

    def action_rbm_view_boletos(self):
        check_staff_access(self, "read")
        action = self.env["ir.actions.act_window"]._for_xml_id("rbm_dunning.rbm_boleto_action")
        action["domain"] = [("move_id", "in", self.ids)]
        action["context"] = {"create": False}
        return action

    def action_rbm_print_boletos(self):
        check_staff_access(self, "read")
        self.ensure_one()
        boletos = self._rbm_get_boletos_to_print()
        if not boletos:
            raise UserError(
                _("Invoice %(invoice)s has no boleto to print.", invoice=self.display_name)
            )
        return self.env.ref("rbm_dunning.action_report_boleto").report_action(boletos)

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    def _rbm_get_collection_account(self, defaults):
        """Collection account of this invoice's boletos, or False.
        ``defaults`` maps a company to its first collection account."""
        self.ensure_one()
        return (
            self.rbm_collection_account_id
            or self.rbm_contract_id.rbm_collection_account_id
            or defaults.get(self.company_id, False)
        )

    def _rbm_wants_boletos(self):
        """Whether posting issues boletos automatically."""
        self.ensure_one()
        return bool(self.rbm_collection_account_id) or (
            self.rbm_contract_id.payment_mode == "boleto"
        )

    def _rbm_issue_boletos(self, automatic):
        """Issue a boleto for every open receivable installment of the posted
        customer invoices in ``self`` (with ``automatic``, only of invoices
        paid by boleto), batched for the whole recordset. Returns the boletos."""
        Boleto = self.env["rbm.boleto"]
        moves = self.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.state == "posted"
                and (not automatic or m._rbm_wants_boletos())
            )
        )
        if not moves:
            return Boleto
        Account = self.env["rbm.collection.account"].sudo()
        defaults = {}
        for account in Account.search(
            [("company_id", "in", moves.company_id.ids)], order="sequence, id"
        ):
            defaults.setdefault(account.company_id, account)
        lines_by_account = defaultdict(lambda: self.env["account.move.line"])
        skipped = defaultdict(lambda: self.env["account.move"])
        unassigned = defaultdict(lambda: self.env["account.move"])
        for move in moves:
            account = move._rbm_get_collection_account(defaults)
            if not account:
                skipped[_("no collection account")] |= move
                continue
            if move.currency_id != account.currency_id:
                skipped[_("boletos are in %(currency)s", currency=account.currency_id.name)] |= move
                continue
            if not move.rbm_collection_account_id:
                unassigned[account] |= move
            lines_by_account[account.sudo()] |= move.line_ids.filtered(
                lambda line: (
                    line.display_type == "payment_term"
                    and line.account_id.account_type == "asset_receivable"
                    and not line.reconciled
                    and line.amount_residual_currency > 0
                )
            )
        if skipped and not automatic:
            raise UserError(
                "\n".join(
                    f"{', '.join(invoices.mapped('name'))}: {reason}."
                    for reason, invoices in skipped.items()
                )
            )
        for reason, invoices in skipped.items():
            for move in invoices:
                move.message_post(
                    body=_("No boleto was issued for this invoice: %(reason)s.", reason=reason)
                )
        boletos = Boleto._issue_for_lines(lines_by_account)
        # the invoice shows the account its boletos were issued on
        for account, invoices in unassigned.items():
            invoices.sudo().rbm_collection_account_id = account
        boletos.move_id._rbm_reset_boleto_pdf()
        return boletos

    def _rbm_get_boletos_to_print(self):
        """Boletos the customer can pay with."""
        self.ensure_one()
        return self.rbm_boleto_ids.filtered(lambda b: b.state in PAYABLE_STATES)

    def _rbm_reset_boleto_pdf(self):
        """Drop the boleto PDF of the invoices: their boletos changed."""
        pdfs = self.sudo().rbm_boleto_pdf_id
        if pdfs:
            self.sudo().rbm_boleto_pdf_id = False
            pdfs.unlink()

    def _rbm_ensure_boleto_pdf(self):
        """The boleto PDF of each invoice as an attachment (rendered once,
        until its boletos change). Returns the attachments."""
        attachments = self.env["ir.attachment"]
        for move in self:
            boletos = move.sudo()._rbm_get_boletos_to_print()
            if not boletos:
                continue
            if not move.rbm_boleto_pdf_id:
                content, _report_type = (
                    self.env["ir.actions.report"]
                    .sudo()
                    ._render_qweb_pdf("rbm_dunning.action_report_boleto", boletos.ids)
                )
                move.sudo().rbm_boleto_pdf_id = (
                    self.env["ir.attachment"]
                    .sudo()
                    .create(
                        {
                            "name": move._rbm_boleto_pdf_filename(),
                            "raw": content,
                            "mimetype": "application/pdf",
                            "res_model": move._name,
                            "res_id": move.id,
                        }
                    )
                )
            attachments |= move.rbm_boleto_pdf_id
        return attachments

    def _rbm_boleto_pdf_filename(self):
        self.ensure_one()
        return "Boleto-{}.pdf".format((self.name or "").replace("/", "_"))
