from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools import check_staff_access


class ResPartner(models.Model):
    _inherit = "res.partner"

    rbm_contract_ids = fields.One2many(
        "rbm.contract", "partner_id", string="Subscription Contracts"
    )
    rbm_contract_count = fields.Integer(
        string="Contracts",
        compute="_compute_rbm_contract_stats",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
    )
    rbm_mrr = fields.Monetary(
        string="Current MRR",
        compute="_compute_rbm_contract_stats",
        currency_field="rbm_mrr_currency_id",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
        help="Monthly recurring revenue of the customer's active contracts.",
    )
    rbm_mrr_currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_rbm_contract_stats",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
    )
    rbm_manage_subscriptions = fields.Boolean(
        string="May Manage Subscriptions",
        help="This contact may change and cancel the subscriptions of their company from the "
        "portal. The user of the company itself always may; other contacts only see them.",
    )
    rbm_preferred_due_day = fields.Integer(
        string="Preferred Due Day",
        help="Day of the month on which the customer prefers to pay; new contracts use it.",
    )

    def _compute_rbm_contract_stats(self):
        all_partners = self.with_context(active_test=False).search_fetch(
            [("id", "child_of", self.ids)], ["parent_id"]
        )
        data = self.env["rbm.contract"]._read_group(
            [("partner_id", "in", all_partners.ids)],
            ["partner_id", "state"],
            ["__count", "mrr:sum"],
        )
        counts, mrr = {}, {}
        for partner, state, count, amount in data:
            while partner:
                if partner in self:
                    counts[partner] = counts.get(partner, 0) + count
                    if state == "active":
                        mrr[partner] = mrr.get(partner, 0.0) + amount
                partner = partner.parent_id
        company_currency = self.env.company.currency_id
        for partner in self:
            partner.rbm_contract_count = counts.get(partner, 0)
            partner.rbm_mrr = mrr.get(partner, 0.0)
            partner.rbm_mrr_currency_id = company_currency

    @api.constrains("rbm_preferred_due_day")
    def _check_rbm_preferred_due_day(self):
        for partner in self:
            if not 0 <= partner.rbm_preferred_due_day <= 31:
                raise ValidationError(
                    _(
                        "Customer %(partner)s: the preferred due day must be between 1 and "
                        "31, or 0 for none (field Preferred Due Day).",
                        partner=partner.display_name,
                    )
                )

    def action_view_rbm_contracts(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("rbm_recurring.rbm_contract_action")
        action["domain"] = [("partner_id", "child_of", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def _rbm_get_tz(self, company=None):
        """Name of the time zone this customer's days are counted in: the
        customer's own, else the company's (``company``, default the
        customer's or the current one), else UTC."""
        self.ensure_one()
        company = company or self.company_id or self.env.company
        return self.tz or company.partner_id.tz or "UTC"

    def _rbm_get_today(self, company=None):
        """Today's date for this customer (see ``_rbm_get_tz``): the portal
        dates the customer's changes and counts days overdue by it, so a
        request made in the evening in São Paulo is not dated tomorrow."""
        return fields.Date.context_today(self.with_context(tz=self._rbm_get_tz(company)))
