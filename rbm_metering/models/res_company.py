from odoo import api, fields, models
from odoo.tools import SQL


class ResCompany(models.Model):
    _inherit = "res.company"

    rbm_usage_retention_months = fields.Integer(
        string="Keep Usage Events (Months)",
        default=0,
        help="Months the usage events are kept one by one after the invoice that billed them: "
        "after that they are summed into daily totals per contract and metric, which the usage "
        "statements show, and deleted. 0 keeps every event forever. Events not invoiced yet are "
        "never deleted.",
    )

    _sql_constraints = [
        (
            "rbm_usage_retention_months_positive",
            "CHECK(rbm_usage_retention_months >= 0)",
            "The months to keep usage events cannot be negative.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        companies._rbm_prepare_usage_purge_lock()
        return companies

    def write(self, vals):
        result = super().write(vals)
        if vals.get("rbm_usage_retention_months"):
            self._rbm_prepare_usage_purge_lock()
        return result

    def _rbm_prepare_usage_purge_lock(self):
        """The row the usage purge batches and ingestions of the companies
        with a retention policy lock (see ``rbm.usage.daily._lock_purge``),
        created with the policy, before any purge."""
        ids = [company.id for company in self if company.rbm_usage_retention_months > 0]
        if ids:
            self.env.cr.execute(
                SQL(
                    """
                    INSERT INTO rbm_usage_purge_lock (company_id)
                    SELECT unnest(%s::int[]) ON CONFLICT DO NOTHING
                    """,
                    ids,
                )
            )
