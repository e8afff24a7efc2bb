from odoo import _, fields, models


class RbmContract(models.Model):
    _inherit = "rbm.contract"

    # a contract paid a way this addon collects falls back to a plain invoice
    # when the addon is uninstalled
    payment_mode = fields.Selection(
        selection_add=[
            ("boleto", "Boleto"),
            ("pix", "Pix"),
            ("card",),
            ("direct_debit", "Direct debit"),
        ],
        ondelete={
            "boleto": "set invoice",
            "pix": "set invoice",
            "direct_debit": "set invoice",
        },
    )
    rbm_collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        check_company=True,
        tracking=True,
        help="Account of the boletos of this contract's invoices (default: the company's first).",
    )

    rbm_collection_status = fields.Selection(
        related="commercial_partner_id.rbm_collection_status",
        string="Collection Status",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
        help="The customer's collection status today (up to date, late, suspended, in legal "
        "collection / protest).",
    )
    rbm_overdue_amount = fields.Monetary(
        related="commercial_partner_id.rbm_overdue_amount",
        string="Overdue Amount",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
    )
    rbm_overdue_currency_id = fields.Many2one(
        related="commercial_partner_id.rbm_overdue_currency_id",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
    )

    rbm_suspended_by_collection = fields.Boolean(
        string="Suspended for Non-payment",
        copy=False,
        readonly=True,
        groups="rbm_recurring.rbm_recurring_group_user,account.group_account_invoice",
        help="Suspended by the collection policy: reactivated as soon as every overdue invoice "
        "is paid.",
    )

    def _reactivate(self, date=None):
        contracts = super()._reactivate(date=date)
        self.filtered("rbm_suspended_by_collection").rbm_suspended_by_collection = False
        return contracts

    rbm_debit_mandate_id = fields.Many2one(
        "rbm.debit.mandate",
        string="Direct Debit Mandate",
        check_company=True,
        tracking=True,
        domain="[('partner_id', '=', commercial_partner_id), ('state', '=', 'active')]",
        help="Mandate the invoices of this contract are debited with (default: the customer's "
        "active mandate).",
    )

    def _rbm_get_portal_debit_mandate_sudo(self):
        """The direct debit mandate the customer sees on the portal page of
        this contract paid by direct debit: the contract's own, else the
        customer's active one on the company's agreements, else the latest
        waiting for the bank's confirmation. Read with sudo (portal users
        have no access to mandates), only for the contract's own customer."""
        self.ensure_one()
        contract_sudo = self.sudo()
        Mandate_sudo = self.env["rbm.debit.mandate"].sudo()
        if contract_sudo.payment_mode != "direct_debit":
            return Mandate_sudo
        if contract_sudo.rbm_debit_mandate_id.state == "active":
            return contract_sudo.rbm_debit_mandate_id
        return Mandate_sudo.search(
            [
                ("partner_id", "=", contract_sudo.commercial_partner_id.id),
                ("company_id", "=", contract_sudo.company_id.id),
                ("state", "in", ("active", "draft")),
            ],
            order="state, id desc",
            limit=1,
        )

    def _rbm_get_portal_tokens(self):
        """Saved cards the customer of this contract can pay it with (sudo)."""
        self.ensure_one()
        return (
            self.env["payment.token"]
            .sudo()
            .search(
                [
                    ("partner_id", "child_of", self.commercial_partner_id.id),
                    ("company_id", "=", self.company_id.id),
                    ("provider_id.state", "in", ("enabled", "test")),
                ]
            )
        )

    def _rbm_set_card(self, token, author):
        """Pay this contract with the saved card ``token`` from now on."""
        self.ensure_one()
        self.write({"payment_mode": "card", "payment_token_id": token.id})
        self.message_post(
            body=_("Saved card chosen by the customer: %(card)s", card=token.display_name),
            author_id=author.id,
            subtype_xmlid="mail.mt_note",
        )
