from odoo import api, models


class ReportUsageStatement(models.AbstractModel):
    """Values of the usage statement PDF: the period comes from ``data``
    (``{"period": "YYYY-MM-DD"}``) or the context key ``rbm_usage_period``;
    the current period by default."""

    _name = "report.rbm_metering.report_usage_statement"
    _description = "Usage Statement Report"

    @api.model
    def _get_report_values(self, docids, data=None):
        period = (data or {}).get("period") or self.env.context.get("rbm_usage_period")
        contracts = self.env["rbm.contract"].browse(docids)
        return {
            "doc_ids": docids,
            "doc_model": "rbm.contract",
            "docs": contracts,
            # figures formatted in the language the document is printed in
            "statements": {
                c.id: c.with_context(lang=c.partner_id.lang or self.env.lang)._get_usage_statement(
                    period
                )
                for c in contracts
            },
        }
