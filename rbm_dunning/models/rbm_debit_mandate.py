import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import sql

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import cnab150

_BRANCH_RE = re.compile(r"[0-9]{1,4}")
# CNAB 150 "identificação do cliente no banco": the account with its digit,
# 14 characters up to layout 04/05, 20 in layout 08
_ACCOUNT_RE = re.compile(r"[0-9]{1,19}[0-9X]")
_CUSTOMER_ID_RE = re.compile(r"[0-9A-Za-z./-]{1,25}")


class RbmDebitMandate(models.Model):
    """A customer's authorization to debit their bank account (autorização de
    débito automático), under one direct debit agreement (collection
    account). Created in the back office or by the bank (CNAB 150 record B)."""

    _name = "rbm.debit.mandate"
    _description = "Direct Debit Mandate"
    _inherit = ["mail.thread"]
    _order = "authorization_date desc, id desc"
    _rec_name = "identifier"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        domain="[('parent_id', '=', False), '|', ('company_id', '=', False), "
        "('company_id', '=', company_id)]",
    )
    collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Agreement",
        required=True,
        index=True,
        default=lambda self: self._default_collection_account(),
        ondelete="restrict",
        check_company=True,
        tracking=True,
        help="Collection account holding the direct debit agreement (convênio) with the bank.",
    )
    company_id = fields.Many2one(
        related="collection_account_id.company_id", store=True, index=True, precompute=True
    )
    bank_code = fields.Selection(related="collection_account_id.bank_code", string="Bank")
    identifier = fields.Char(
        string="Customer Identifier",
        required=True,
        tracking=True,
        help="How the company identifies the customer at the bank (identificação do cliente "
        "na empresa): the customer gives it to the bank when authorizing the debit.",
    )
    branch = fields.Char(string="Agency", required=True, tracking=True, help="Digits only.")
    account_number = fields.Char(
        string="Account",
        required=True,
        tracking=True,
        help="The customer's account with its check digit, as the bank identifies it "
        "(digits, the last one may be X).",
    )
    authorization_date = fields.Date(tracking=True)
    cancel_date = fields.Date(string="Cancellation Date", readonly=True, copy=False)
    state = fields.Selection(
        [("draft", "Draft"), ("active", "Active"), ("cancelled", "Cancelled")],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        index=True,
        copy=False,
    )
    origin = fields.Selection(
        [("manual", "Back Office"), ("bank", "Bank (CNAB 150)")],
        default="manual",
        required=True,
        readonly=True,
    )
    debit_ids = fields.One2many("rbm.debit", "mandate_id", string="Debits")
    debit_count = fields.Integer(compute="_compute_debit_count")

    @api.model
    def _default_collection_account(self):
        return self.env["rbm.collection.account"].search(
            [("company_id", "=", self.env.company.id), ("debit_agreement", "!=", False)], limit=1
        )

    def init(self):
        super().init()
        # one live mandate per identifier and agreement; one active per customer
        if not sql.index_exists(self.env.cr, "rbm_debit_mandate_identifier_uniq"):
            self.env.cr.execute(
                """
                CREATE UNIQUE INDEX rbm_debit_mandate_identifier_uniq
                    ON rbm_debit_mandate (collection_account_id, identifier)
                 WHERE state != 'cancelled'
                """
            )
        if not sql.index_exists(self.env.cr, "rbm_debit_mandate_partner_active_uniq"):
            self.env.cr.execute(
                """
                CREATE UNIQUE INDEX rbm_debit_mandate_partner_active_uniq
                    ON rbm_debit_mandate (collection_account_id, partner_id)
                 WHERE state = 'active'
                """
            )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    def _compute_debit_count(self):
        counts = dict(
            self.env["rbm.debit"]._read_group(
                [("mandate_id", "in", self.ids)], ["mandate_id"], ["__count"]
            )
        )
        for mandate in self:
            mandate.debit_count = counts.get(mandate, 0)

    @api.depends("identifier", "partner_id")
    def _compute_display_name(self):
        for mandate in self:
            mandate.display_name = f"{mandate.identifier or ''} - {mandate.partner_id.name or ''}"

    # ------------------------------------------------------------
    # CONSTRAINTS AND ONCHANGE
    # ------------------------------------------------------------

    @api.constrains("branch", "account_number", "identifier", "collection_account_id")
    def _check_bank_details(self):
        for mandate in self:
            version = mandate.collection_account_id._get_debit_layout_version()
            width = cnab150.layout(version)["E"]["account_id"].width
            if not _BRANCH_RE.fullmatch(mandate.branch or ""):
                raise ValidationError(
                    _(
                        "Agency of mandate %(mandate)s: up to 4 digits, got %(value)s.",
                        mandate=mandate.identifier,
                        value=mandate.branch,
                    )
                )
            account = mandate.account_number or ""
            if not _ACCOUNT_RE.fullmatch(account) or len(account) > width:
                raise ValidationError(
                    _(
                        "Account of mandate %(mandate)s: 2 to %(width)s digits with the check "
                        "digit last (which may be X), got %(value)s.",
                        mandate=mandate.identifier,
                        width=width,
                        value=mandate.account_number,
                    )
                )
            if not _CUSTOMER_ID_RE.fullmatch(mandate.identifier or ""):
                raise ValidationError(
                    _(
                        "Customer Identifier %(value)s: 1 to 25 letters, digits, dots, slashes "
                        "or hyphens.",
                        value=mandate.identifier,
                    )
                )

    @api.onchange("partner_id")
    def _onchange_partner_id(self):
        if self.partner_id and not self.identifier:
            self.identifier = self._default_identifier(self.partner_id)

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        partners = self.env["res.partner"].browse(
            [vals["partner_id"] for vals in vals_list if vals.get("partner_id")]
        )
        for vals in vals_list:
            if vals.get("partner_id") and not vals.get("identifier"):
                vals["identifier"] = self._default_identifier(
                    partners.browse(vals["partner_id"]).commercial_partner_id
                )
            vals.update(self._normalize_vals(vals))
        return super().create(vals_list)

    def write(self, vals):
        return super().write(self._normalize_vals(vals))

    @api.model
    def _normalize_vals(self, vals):
        """Bank details without separators (``12345-6`` → ``123456``)."""
        normalized = dict(vals)
        for name in ("branch", "account_number"):
            if isinstance(vals.get(name), str):
                normalized[name] = re.sub(r"[\s.-]", "", vals[name]).upper()
        if isinstance(vals.get("identifier"), str):
            normalized["identifier"] = vals["identifier"].strip()
        return normalized

    @api.model
    def _default_identifier(self, partner):
        """The partner's reference, or its number."""
        partner = partner.commercial_partner_id
        return (partner.ref or "").strip()[:25] or str(partner.id)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_activate(self):
        check_staff_access(self, "write")
        for mandate in self:
            if mandate.state != "draft":
                raise UserError(
                    _(
                        "Only draft mandates can be activated (%(mandate)s).",
                        mandate=mandate.display_name,
                    )
                )
        for mandate in self:
            mandate._activate(mandate.authorization_date or fields.Date.context_today(self))

    def action_cancel(self):
        check_staff_access(self, "write")
        self._cancel(fields.Date.context_today(self))

    def action_view_debits(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return self.debit_ids._get_records_action(name=_("Debits"))

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    @api.model
    def _create_from_bank(self, vals):
        """A mandate the customer authorized at the bank (CNAB 150 record B):
        active from the start."""
        return self.create({**vals, "state": "active", "origin": "bank"})

    def _activate(self, authorization_date, bank_details=None):
        """Active from ``authorization_date``, with the bank details the bank
        confirmed (``branch``, ``account_number``) when given."""
        self.write(
            {**(bank_details or {}), "state": "active", "authorization_date": authorization_date}
        )

    def _cancel(self, cancel_date):
        """Cancelled on ``cancel_date`` (mandates already cancelled stay as they are)."""
        self.filtered(lambda m: m.state != "cancelled").write(
            {"state": "cancelled", "cancel_date": cancel_date}
        )

    @api.model
    def _get_active_for_partners(self, partners, company):
        """``{commercial partner: active mandate}`` in ``company`` (the most
        recently authorized when several agreements have one)."""
        mandates = self.search(
            [
                ("partner_id", "in", partners.commercial_partner_id.ids),
                ("company_id", "=", company.id),
                ("state", "=", "active"),
            ],
            order="authorization_date desc, id desc",
        )
        result = {}
        for mandate in mandates:
            result.setdefault(mandate.partner_id, mandate)
        return result
