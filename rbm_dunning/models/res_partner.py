from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine.checkdigits import DocumentError, format_document, validate_document

COLLECTION_STATUSES = [
    ("current", "Up to Date"),
    ("late", "Late"),
    ("suspended", "Suspended"),
    ("legal", "In Legal Collection / Protest"),
]
# the first status that applies wins
STATUS_PRIORITY = ("legal", "suspended", "late")
_GROUPS = "account.group_account_invoice,rbm_recurring.rbm_recurring_group_user"
# staff only: the customer never reads the collection calendar set for them
STAFF_GROUPS = "rbm_recurring.rbm_recurring_group_user,account.group_account_invoice"


class ResPartner(models.Model):
    _inherit = "res.partner"

    rbm_collection_status = fields.Selection(
        COLLECTION_STATUSES,
        string="Collection Status",
        compute="_compute_rbm_collection",
        search="_search_rbm_collection_status",
        groups=_GROUPS,
        help="Of the customer (company), from its open installments today, in the active "
        "companies: In legal collection / protest when an open invoice is flagged for it or "
        "its boleto was protested; otherwise Suspended when a contract is suspended; "
        "otherwise Late when an installment is past due; otherwise Up to date.",
    )
    rbm_overdue_amount = fields.Monetary(
        string="Overdue Amount",
        compute="_compute_rbm_collection",
        currency_field="rbm_overdue_currency_id",
        groups=_GROUPS,
        help="Open amount of the customer's installments past due today.",
    )
    rbm_overdue_days = fields.Integer(
        string="Oldest Overdue (days)",
        compute="_compute_rbm_collection",
        search="_search_rbm_overdue_days",
        groups=_GROUPS,
        help="Days past due of the customer's oldest open installment.",
    )
    rbm_overdue_currency_id = fields.Many2one(
        "res.currency", compute="_compute_rbm_collection", groups=_GROUPS
    )

    # collection calendar
    rbm_collection_policy_id = fields.Many2one(
        "rbm.collection.policy",
        string="Collection Policy",
        tracking=True,
        groups=STAFF_GROUPS,
        help="The collection calendar of this customer's invoices; empty: the company's default "
        "policy.",
    )
    rbm_collection_policy_date = fields.Date(
        string="Policy Since",
        readonly=True,
        groups=STAFF_GROUPS,
        copy=False,
        help="Day the customer got this policy: with 'Skip Past Steps', steps due before are "
        "skipped.",
    )
    rbm_collection_paused_until = fields.Date(
        string="Collection Paused Until",
        tracking=True,
        groups=STAFF_GROUPS,
        copy=False,
        help="Promise to pay: no collection step runs for this customer until after this day.",
    )
    rbm_collection_pause_note = fields.Char(
        string="Promise to Pay", tracking=True, copy=False, groups=STAFF_GROUPS
    )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        # the Tax ID masked in the values when the country is given (no second write)
        brazil = self.env.ref("base.br", raise_if_not_found=False)
        for vals in vals_list:
            if brazil and vals.get("vat") and vals.get("country_id") == brazil.id:
                try:
                    vals["vat"] = format_document(vals["vat"])
                except DocumentError:
                    pass  # left to the constraints
            if vals.get("rbm_collection_policy_id"):
                vals.setdefault("rbm_collection_policy_date", fields.Date.context_today(self))
        partners = super().create(vals_list)
        if not self.env.context.get("rbm_masking_document"):
            partners.filtered("vat")._rbm_mask_br_document()
        return partners

    def write(self, vals):
        if "rbm_collection_policy_id" in vals and "rbm_collection_policy_date" not in vals:
            vals = dict(vals, rbm_collection_policy_date=fields.Date.context_today(self))
        result = super().write(vals)
        if ("vat" in vals or "country_id" in vals) and not self.env.context.get(
            "rbm_masking_document"
        ):
            self.filtered("vat")._rbm_mask_br_document()
        return result

    # ------------------------------------------------------------
    # COLLECTION STATUS
    # ------------------------------------------------------------

    @api.depends_context("allowed_company_ids")
    def _compute_rbm_collection(self):
        data = self._rbm_get_collection_data(self.commercial_partner_id.ids)
        currency = self.env.company.currency_id
        for partner in self:
            status, amount, days = data.get(partner.commercial_partner_id.id, ("current", 0.0, 0))
            partner.rbm_collection_status = status
            partner.rbm_overdue_amount = amount
            partner.rbm_overdue_days = days
            partner.rbm_overdue_currency_id = currency

    def _search_rbm_collection_status(self, operator, value):
        if operator in ("=", "!="):
            values = {value}
        elif operator in ("in", "not in"):
            values = set(value or ())
        else:
            raise UserError(
                _("Collection Status: operator %(operator)s is not supported.", operator=operator)
            )
        data = self._rbm_get_collection_data()
        late_ids = [pid for pid, (status, _amount, _days) in data.items() if status != "current"]
        selected = [pid for pid, (status, _amount, _days) in data.items() if status in values]
        if "current" in values:
            domain = [("commercial_partner_id", "not in", late_ids)]
            if selected:
                domain = ["|", ("commercial_partner_id", "in", selected)] + domain
        else:
            domain = [("commercial_partner_id", "in", selected)]
        if operator in ("!=", "not in"):
            domain = ["!", *domain]
        return domain

    def _search_rbm_overdue_days(self, operator, value):
        ops = {">": int.__gt__, ">=": int.__ge__, "<": int.__lt__, "<=": int.__le__}
        ops.update({"=": int.__eq__, "!=": int.__ne__})
        if operator not in ops or not isinstance(value, int) or isinstance(value, bool):
            raise UserError(
                _(
                    "Oldest Overdue (days): operator %(operator)s with %(value)s is not supported.",
                    operator=operator,
                    value=value,
                )
            )
        data = self._rbm_get_collection_data()
        if ops[operator](0, value):
            # customers with nothing overdue match too
            excluded = [pid for pid, row in data.items() if not ops[operator](row[2], value)]
            return [("commercial_partner_id", "not in", excluded)]
        ids = [pid for pid, row in data.items() if ops[operator](row[2], value)]
        return [("commercial_partner_id", "in", ids)]

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    @api.model
    def _rbm_get_collection_data(self, commercial_ids=None, as_of=None):
        """``{commercial partner id: (status, overdue amount, oldest overdue
        days)}`` at ``as_of`` (default today) in the active companies, for
        the customers with open installments or a suspended contract (all of
        them, or those of ``commercial_ids``); the others are up to date.
        Two set-based queries."""
        as_of = as_of or fields.Date.context_today(self)
        if commercial_ids is not None and not commercial_ids:
            return {}
        Aging = self.env["rbm.receivable.aging"]
        Aging._flush_aging_sources()
        self.env["rbm.contract"].flush_model(["state", "commercial_partner_id", "company_id"])
        companies = tuple(self.env.companies.ids)
        partner_condition = (
            SQL("a.partner_id IN %s", tuple(commercial_ids)) if commercial_ids else SQL("TRUE")
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT a.partner_id, SUM(a.amount_overdue), MAX(a.days_overdue),
                       BOOL_OR(a.legal_collection)
                  FROM (%s) a
                 WHERE a.company_id IN %s AND %s
              GROUP BY a.partner_id
                """,
                Aging._get_aging_query(as_of),
                companies,
                partner_condition,
            )
        )
        rows = self.env.cr.fetchall()
        contract_condition = (
            SQL("c.commercial_partner_id IN %s", tuple(commercial_ids))
            if commercial_ids
            else SQL("TRUE")
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT c.commercial_partner_id
                  FROM rbm_contract c
                 WHERE c.state = 'suspended' AND c.company_id IN %s AND %s
                """,
                companies,
                contract_condition,
            )
        )
        suspended = {pid for (pid,) in self.env.cr.fetchall()}
        flags = defaultdict(set)
        figures = {}
        for partner_id, overdue, days, legal in rows:
            figures[partner_id] = (float(overdue or 0.0), int(days or 0))
            if legal:
                flags[partner_id].add("legal")
            if overdue:
                flags[partner_id].add("late")
        for partner_id in suspended:
            flags[partner_id].add("suspended")
        result = {}
        for partner_id in set(figures) | suspended:
            status = next((s for s in STATUS_PRIORITY if s in flags[partner_id]), "current")
            amount, days = figures.get(partner_id, (0.0, 0))
            result[partner_id] = (status, amount, days)
        return result

    def _rbm_get_overdue_installments_sudo(self, as_of=None, contract=None):
        """Installments (sudo ``account.move.line``) of this customer past due
        at ``as_of`` (default today), in every company, optionally of one
        contract's invoices only: what the portal asks the customer to pay."""
        self.ensure_one()
        as_of = as_of or fields.Date.context_today(self)
        aging_sudo = self.env["rbm.receivable.aging"].sudo()
        aging_sudo._flush_aging_sources()
        condition = SQL("a.partner_id = %s AND a.days_overdue > 0", self.commercial_partner_id.id)
        if contract is not None:
            condition = SQL("%s AND a.contract_id = %s", condition, contract.id or 0)
        self.env.cr.execute(
            SQL(
                "SELECT a.move_line_id FROM (%s) a WHERE %s ORDER BY a.date_maturity, a.id",
                aging_sudo._get_aging_query(as_of),
                condition,
            )
        )
        line_ids = [line_id for (line_id,) in self.env.cr.fetchall()]
        return self.env["account.move.line"].sudo().browse(line_ids)

    def action_rbm_view_aging(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rbm_dunning.rbm_receivable_aging_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        return action

    # ------------------------------------------------------------
    # TAX ID (CPF / CNPJ)
    # ------------------------------------------------------------
    # The Brazilian tax ID (CPF / CNPJ) of partners, numeric or alphanumeric.
    #
    # One rule, the engine's (``engine.checkdigits``): a CPF has 11 digits; a CNPJ
    # 14 characters, the first 12 digits or letters A-Z (the alphanumeric CNPJ the
    # Receita Federal issues since July 2026, IN RFB 2.229/2024), the last 2 numeric
    # check digits. For partners whose (commercial) country is Brazil:
    #
    # - the Tax ID is checked with that rule here when no other module checks it;
    #   with Odoo's VAT check installed (``base_vat``, pulled in by ``l10n_br``),
    #   ``rbm_base_vat`` makes Odoo's own Brazilian check use the same rule;
    # - a valid Tax ID is stored with its mask (``12.ABC.345/01DE-35``,
    #   ``390.533.447-05``), letters upper-cased, whatever way it was typed.
    #
    # The context key ``no_vat_validation`` (Odoo's, for data pushed from outside)
    # skips the check, as Odoo's own does.

    def _rbm_is_brazilian(self):
        self.ensure_one()
        partner = self.commercial_partner_id or self
        return (partner.country_id or self.country_id).code == "BR"

    @api.model
    def _rbm_document_reason(self, error):
        """Translated reason of the engine's ``DocumentError``."""
        reasons = {
            "length": self.env._(
                "a CPF has 11 digits and a CNPJ 14 characters (12 digits or letters A-Z, "
                "then 2 check digits)"
            ),
            "characters": self.env._(
                "a CPF has only digits; a CNPJ has 12 digits or letters A-Z followed by 2 "
                "numeric check digits"
            ),
            "repeated": self.env._("a number made of one repeated character is not issued"),
            "missing": self.env._("it is empty"),
            "check_digits": self.env._("its check digits are wrong"),
        }
        return reasons.get(getattr(error, "reason", None), str(error))

    @api.model
    def _rbm_document_error(self, value, error, partner_name=None):
        """Translated sentence saying why ``value`` is not a CPF/CNPJ
        (``error``: the engine's ``DocumentError``), naming the partner and
        the field."""
        reason = self._rbm_document_reason(error)
        if partner_name:
            return self.env._(
                "Tax ID (CPF/CNPJ) of %(partner)s: %(value)s is not valid: %(reason)s.",
                partner=partner_name,
                value=value,
                reason=reason,
            )
        return self.env._(
            "Tax ID (CPF/CNPJ): %(value)s is not valid: %(reason)s.", value=value, reason=reason
        )

    @api.constrains("vat", "country_id")
    def _check_rbm_br_document(self):
        # with base_vat installed, Odoo's own check (check_vat) applies the
        # same rule through rbm_base_vat: not checked twice
        if self.env.context.get("no_vat_validation") or hasattr(self, "check_vat"):
            return
        for partner in self:
            if not partner.vat or len(partner.vat) == 1 or not partner._rbm_is_brazilian():
                continue
            try:
                validate_document(partner.vat)
            except DocumentError as error:
                raise ValidationError(
                    self._rbm_document_error(partner.vat, error, partner.display_name)
                ) from None

    def _rbm_mask_br_document(self):
        """Store the valid Brazilian Tax IDs of ``self`` with their mask."""
        for partner in self:
            if not partner.vat or not partner._rbm_is_brazilian():
                continue
            try:
                masked = format_document(partner.vat)
            except DocumentError:
                continue  # left as typed (checked by the constraints, or not at all)
            if masked != partner.vat:
                partner.with_context(rbm_masking_document=True).write({"vat": masked})
