from odoo import _, api, fields, models
from odoo.tools import SQL

from odoo.addons.rbm_recurring.engine import kpi as kpi_engine


class RbmKpi(models.AbstractModel):
    _inherit = "rbm.kpi"

    @api.model
    def _get_kpis(
        self,
        date_from,
        date_to,
        company_ids=None,
        plan_ids=None,
        product_ids=None,
        user_ids=None,
        currency_ids=None,
    ):
        """Adds the receivable figures (see ``_get_kpi_receivables``): open
        and overdue receivables, delinquency rate and DSO."""
        filters = self._get_kpi_filters(company_ids, plan_ids, product_ids, user_ids, currency_ids)
        figures = self._get_kpi_receivables(
            fields.Date.to_date(date_from), fields.Date.to_date(date_to), filters
        )
        # computed once: _get_kpi_delinquency reads the rate from the context
        result = super(
            RbmKpi, self.with_context(rbm_kpi_receivables=tuple(figures.items()))
        )._get_kpis(date_from, date_to, company_ids, plan_ids, product_ids, user_ids, currency_ids)
        result.update(figures)
        return result

    def _get_kpi_delinquency(self, date_from, date_to, filters):
        """Delinquency rate (inadimplência) at ``date_to``: of the amount of
        the contracts' customer invoices still open at the end of the day
        ``date_to`` (installments of posted invoices, see
        ``rbm.receivable.aging``), the part past due that day (due date
        before ``date_to``). Contracts filtered as the other KPIs (company,
        plan, product, salesperson). ``None`` when nothing is open."""
        figures = self.env.context.get("rbm_kpi_receivables")
        if figures is None:
            return self._get_kpi_receivables(date_from, date_to, filters)["delinquency_rate"]
        return dict(figures)["delinquency_rate"]

    def _get_kpi_receivables(self, date_from, date_to, filters):
        """Receivable figures of the contracts for the filters:

        - ``receivables``: amount of their invoices' installments open at
          ``date_to`` (company currency);
        - ``overdue_receivables``: the part of it past due at ``date_to``;
        - ``delinquency_rate``: overdue ÷ receivables (``None`` when no
          receivable is open);
        - ``credit_sales``: total (taxes included) of their posted customer
          invoices less credit notes dated in ``[date_from, date_to]``;
        - ``dso`` (days sales outstanding): receivables ÷ credit sales × the
          days of the period, rounded to 0.1 day (``None`` without sales).

        Two set-based queries."""
        Aging = self.env["rbm.receivable.aging"]
        Aging._flush_aging_sources()
        self.env["rbm.contract"].flush_model(["company_id", "plan_id", "user_id"])
        self.env["rbm.contract.line"].flush_model(["contract_id", "product_id"])
        self.env["account.move"].flush_model(
            ["rbm_contract_id", "state", "move_type", "invoice_date", "amount_total_signed"]
        )
        condition = self._get_kpi_contract_condition(filters)
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(a.amount_residual), 0), COALESCE(SUM(a.amount_overdue), 0)
                  FROM (%(aging)s) a
                  JOIN rbm_contract c ON c.id = a.contract_id
                 WHERE %(condition)s
                """,
                aging=Aging._get_aging_query(date_to),
                condition=condition,
            )
        )
        receivables, overdue = (float(value) for value in self.env.cr.fetchone())
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(m.amount_total_signed), 0)
                  FROM account_move m
                  JOIN rbm_contract c ON c.id = m.rbm_contract_id
                 WHERE m.state = 'posted'
                   AND m.move_type IN ('out_invoice', 'out_refund', 'out_receipt')
                   AND m.invoice_date BETWEEN %(date_from)s AND %(date_to)s
                   AND %(condition)s
                """,
                date_from=date_from,
                date_to=date_to,
                condition=condition,
            )
        )
        sales = float(self.env.cr.fetchone()[0])
        days = (date_to - date_from).days + 1
        return {
            "receivables": round(receivables, 2),
            "overdue_receivables": round(overdue, 2),
            "delinquency_rate": overdue / receivables if receivables > 0 else None,
            "credit_sales": round(sales, 2),
            "dso": round(receivables / sales * days, 1) if sales > 0 else None,
        }

    @api.model
    def action_kpi_drilldown(self, key, params):
        action = super().action_kpi_drilldown(key, params)
        if action["res_model"] == "rbm.receivable.aging":
            # the installments open at the end of the figure's period
            _date_from, date_to = self._get_kpi_default_period(
                params.get("date_to"), max(1, min(int(params.get("months") or 12), 36))
            )
            if params.get("month"):
                date_to = min(kpi_engine.month_end(fields.Date.to_date(params["month"])), date_to)
            action["context"] = {**action["context"], "rbm_aging_date": str(date_to)}
            action["views"] = [(False, "list"), (False, "pivot"), (False, "graph")]
        return action

    def _get_kpi_drilldown(self, key, date_from, date_to, filters, cohort=None, offset=None):
        if key in ("delinquency_rate", "overdue_receivables", "receivables", "dso"):
            domain = [("contract_id", "!=", False)] + self._get_kpi_contract_domain(
                filters, "contract_id."
            )
            if key in ("delinquency_rate", "overdue_receivables"):
                domain.append(("days_overdue", ">", 0))
            return "rbm.receivable.aging", domain, _("Open installments")
        return super()._get_kpi_drilldown(
            key, date_from, date_to, filters, cohort=cohort, offset=offset
        )

    def _get_kpi_xlsx_summary_rows(self):
        rows = super()._get_kpi_xlsx_summary_rows()
        keys = [key for _label, key, _fmt in rows]
        at = keys.index("delinquency_rate") + 1 if "delinquency_rate" in keys else len(rows)
        rows[at:at] = [
            (_("Open receivables (contracts)"), "receivables", "money"),
            (_("Overdue receivables"), "overdue_receivables", "money"),
            (_("DSO (days sales outstanding)"), "dso", None),
        ]
        return rows
