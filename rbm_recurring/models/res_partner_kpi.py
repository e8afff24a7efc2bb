from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    rbm_lifetime_revenue = fields.Monetary(
        string="Lifetime Revenue",
        compute="_compute_rbm_kpi",
        currency_field="rbm_mrr_currency_id",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
        help="Realised revenue: untaxed amount of the customer's paid subscription invoices, "
        "net of paid credit notes.",
    )
    rbm_ltv = fields.Monetary(
        string="LTV",
        compute="_compute_rbm_kpi",
        currency_field="rbm_mrr_currency_id",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
        help="Expected lifetime value: the customer's current MRR divided by the average "
        "monthly revenue churn rate of the last 12 months (empty without churn).",
    )

    def _compute_rbm_kpi(self):
        Kpi = self.env["rbm.kpi"]
        today = fields.Date.context_today(self)
        commercial = self.commercial_partner_id
        revenue = Kpi._get_kpi_realised_revenue_by_partner(
            today, Kpi._get_kpi_filters(), commercial.ids
        )
        churn = None
        if any(partner.rbm_mrr for partner in self):
            churn = Kpi._get_kpi_avg_revenue_churn_rate(today)
        for partner in self:
            partner.rbm_lifetime_revenue = revenue.get(partner.commercial_partner_id.id, 0.0)
            partner.rbm_ltv = partner.rbm_mrr / churn if churn else 0.0
