from odoo import api, fields, models


class RbmNfseCounter(models.Model):
    """The last DPS number of a company's series.

    A number is reserved by ``UPDATE ... RETURNING`` on the counter's row: the row stays
    locked until the reserving transaction ends, so two workers never get the same number,
    and a transaction that rolls back gives its number back. The issuing code commits the
    number together with the NFS-e record holding it (state "sent") before calling the
    Sefin, and that record keeps it for good: a rejected DPS is resent with its number. So
    a number is consumed only by a record that stays, which ``ir.sequence`` (even no_gap,
    whose number survives a rolled-back send only if committed apart) does not ensure.
    """

    _name = "rbm.nfse.counter"
    _description = "DPS Number Counter"

    company_id = fields.Many2one("res.company", required=True, index=True, ondelete="cascade")
    series = fields.Char(required=True)
    last_number = fields.Integer(default=0, required=True)

    _sql_constraints = [
        (
            "company_series_uniq",
            "UNIQUE (company_id, series)",
            "One DPS counter per company and series.",
        ),
    ]

    @api.model
    def _reserve(self, company, series):
        """The next DPS number of ``company``'s ``series``; the counter row stays locked until
        the caller's transaction ends."""
        self.flush_model()
        self.env.cr.execute(
            """
            INSERT INTO rbm_nfse_counter (company_id, series, last_number, create_date,
                                          write_date, create_uid, write_uid)
            VALUES (%s, %s, 0, now() at time zone 'UTC', now() at time zone 'UTC', %s, %s)
            ON CONFLICT (company_id, series) DO NOTHING
            """,
            [company.id, series, self.env.uid, self.env.uid],
        )
        self.env.cr.execute(
            """
            UPDATE rbm_nfse_counter
               SET last_number = last_number + 1
             WHERE company_id = %s AND series = %s
         RETURNING last_number
            """,
            [company.id, series],
        )
        number = self.env.cr.fetchone()[0]
        self.invalidate_model(["last_number"], flush=False)
        return number
