from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.misc import formatLang

from ..tools import check_staff_access

HISTORY_MONTHS = 24  # months the customer form draws


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

    # KPI
    rbm_current_mrr = fields.Monetary(
        string="MRR Today",
        compute="_compute_rbm_kpi",
        currency_field="rbm_mrr_currency_id",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
        help="The customer's MRR today from their MRR movements: the MRR after the last "
        "movement of each of their contracts.",
    )
    rbm_invoiced_revenue = fields.Monetary(
        string="Lifetime Revenue Invoiced",
        compute="_compute_rbm_kpi",
        currency_field="rbm_mrr_currency_id",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
        help="Untaxed amount of the customer's posted subscription invoices, net of credit "
        "notes, paid or not.",
    )
    rbm_lifetime_revenue = fields.Monetary(
        string="Lifetime Revenue Paid",
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
        "monthly revenue churn rate of the book over the last 12 whole months (empty "
        "without churn).",
    )
    rbm_mrr_history = fields.Html(
        string="MRR History",
        compute="_compute_rbm_kpi",
        sanitize=False,
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_user",
        help="The customer's MRR at the end of each month, from their MRR movements.",
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

    # ------------------------------------------------------------
    # KPI
    # ------------------------------------------------------------

    @api.depends_context("lang")
    def _compute_rbm_kpi(self):
        Kpi = self.env["rbm.kpi"]
        today = fields.Date.context_today(self)
        commercial = self.commercial_partner_id
        filters = Kpi._get_kpi_filters()
        paid = Kpi._get_kpi_realised_revenue_by_partner(today, filters, commercial.ids)
        invoiced = Kpi._get_kpi_realised_revenue_by_partner(
            today, filters, commercial.ids, paid=False
        )
        histories = Kpi._get_kpi_customer_history(commercial.ids, today)
        churn = None
        if any(history["mrr"] for history in histories.values()):
            churn = Kpi._get_kpi_avg_revenue_churn_rate(today)
        for partner in self:
            key = partner.commercial_partner_id.id
            history = histories.get(key, {"mrr": 0.0, "months": []})
            partner.rbm_lifetime_revenue = paid.get(key, 0.0)
            partner.rbm_invoiced_revenue = invoiced.get(key, 0.0)
            partner.rbm_current_mrr = history["mrr"]
            partner.rbm_ltv = history["mrr"] / churn if churn else 0.0
            partner.rbm_mrr_history = partner._rbm_render_mrr_history(history["months"])

    def _rbm_render_mrr_history(self, months):
        """A bar chart of the MRR at the end of each month (HTML)."""
        if not months:
            return Markup('<p class="text-muted">%s</p>') % _("No MRR movements yet.")
        months = months[-HISTORY_MONTHS:]
        top = max(mrr for _month, mrr in months) or 1.0
        currency = self.env.company.currency_id
        bars = Markup()
        for month, mrr in months:
            label = month.strftime("%m/%Y")
            amount = formatLang(self.env, mrr, currency_obj=currency)
            height = max(0.0, mrr) / top * 100.0
            bars += Markup(
                '<div class="o_rbm_mrr_history_col d-flex flex-column justify-content-end '
                'text-center" style="flex: 1 1 0; min-width: 2.2rem;" title="%s: %s">'
                '<div class="small text-muted" style="font-size: 0.65rem;">%s</div>'
                '<div class="o_rbm_mrr_history_bar bg-primary" style="height: %.1f%%;"></div>'
                '<div class="small" style="font-size: 0.65rem;">%s</div></div>'
            ) % (label, amount, formatLang(self.env, mrr, digits=0), height, label)
        return (
            Markup(
                '<div class="o_rbm_mrr_history d-flex align-items-stretch gap-1" '
                'style="height: 11rem;">%s</div>'
            )
            % bars
        )

    def action_view_rbm_mrr_events(self):
        """The customer's MRR movements, by month."""
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "rbm_recurring.rbm_mrr_event_action_analysis"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["display_name"] = _(
            "MRR movements of %(customer)s", customer=self.commercial_partner_id.display_name
        )
        return action
