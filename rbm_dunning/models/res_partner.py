from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.rbm_recurring.tools import check_staff_access

COLLECTION_STATUSES = [
    ("current", "Up to Date"),
    ("late", "Late"),
    ("suspended", "Suspended"),
    ("legal", "In Legal Collection / Protest"),
]
# the first status that applies wins
STATUS_PRIORITY = ("legal", "suspended", "late")
_GROUPS = "account.group_account_invoice,rbm_recurring.rbm_recurring_group_user"


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
