import io
from collections import defaultdict
from decimal import Decimal

from odoo import _, api, fields, models
from odoo.tools import SQL

from odoo.addons.rbm_recurring.engine import periods
from odoo.addons.rbm_recurring.tools import replica_env

from .rbm_boleto import ACTIVE_STATES

AGING_BUCKETS = [
    ("0_current", "Current"),
    ("1_30", "1-30 days"),
    ("31_60", "31-60 days"),
    ("61_90", "61-90 days"),
    ("90_plus", "90+ days"),
]


class RbmReceivableAging(models.Model):
    """Open receivable installments of customer invoices at an "as of" date,
    one row per installment (receivable ``account.move.line``), with its
    aging bucket and its collection dimensions.

    The date comes from Python, never from PostgreSQL's ``CURRENT_DATE``: the
    context key ``rbm_aging_date`` (a date or ISO string), by default the
    user's today (``fields.Date.context_today``). The rows are a query
    (``_table_query``) computed for that date, so the pivot of any date is
    exact and a test can move the date with ``freeze_time``.

    An installment is the ``payment_term`` line of a posted customer invoice
    or receipt on a receivable account, dated on or before the as-of date.
    Its amount open at the date is its balance less the reconciliations
    (partials) dated on or before the date, so a payment received later does
    not hide an installment that was open at the date; installments with
    nothing open are left out. Days past due are ``as of - due date``:
    0 or less is *current*, then 1-30, 31-60, 61-90 and 90+. Amounts are in
    the company's currency; the boleto state is the current one.
    """

    _name = "rbm.receivable.aging"
    _description = "Receivables Aging"
    _auto = False
    _order = "date_maturity, id"
    _rec_name = "move_line_id"

    as_of_date = fields.Date(string="As of", readonly=True)
    move_line_id = fields.Many2one("account.move.line", string="Installment", readonly=True)
    move_id = fields.Many2one("account.move", string="Invoice", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", string="Company", readonly=True)
    currency_id = fields.Many2one("res.currency", string="Currency", readonly=True)
    contract_id = fields.Many2one("rbm.contract", string="Contract", readonly=True)
    plan_id = fields.Many2one("rbm.plan", string="Plan", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    payment_method = fields.Selection(
        selection="_selection_payment_method",
        string="Payment Method",
        readonly=True,
        help="Boleto when the installment has a boleto, otherwise the contract's payment method.",
    )
    boleto_id = fields.Many2one("rbm.boleto", string="Boleto", readonly=True)
    boleto_state = fields.Selection(
        selection=lambda self: (
            self.env["rbm.boleto"]._fields["state"]._description_selection(self.env)
        ),
        string="Boleto Status",
        readonly=True,
    )
    legal_collection = fields.Boolean(
        string="In Protest / Legal Collection",
        readonly=True,
        help="The invoice is flagged for protest or legal collection, or its boleto was protested.",
    )
    portfolio_state = fields.Selection(
        [("not_due", "To Be Due"), ("overdue", "Overdue"), ("protest", "In Protest / Legal")],
        string="Portfolio Status",
        readonly=True,
    )
    invoice_date = fields.Date(readonly=True)
    date_maturity = fields.Date(string="Due Date", readonly=True)
    days_overdue = fields.Integer(
        string="Days Past Due", readonly=True, aggregator="max", help="0 when not yet due."
    )
    aging_bucket = fields.Selection(AGING_BUCKETS, string="Aging", readonly=True)
    amount_original = fields.Monetary(string="Installment Amount", readonly=True)
    amount_residual = fields.Monetary(string="Open Amount", readonly=True)
    amount_not_due = fields.Monetary(string="Current", readonly=True)
    amount_overdue = fields.Monetary(string="Overdue", readonly=True)
    amount_1_30 = fields.Monetary(string="1-30 days", readonly=True)
    amount_31_60 = fields.Monetary(string="31-60 days", readonly=True)
    amount_61_90 = fields.Monetary(string="61-90 days", readonly=True)
    amount_90_plus = fields.Monetary(string="90+ days", readonly=True)

    _depends = {
        "account.move.line": [
            "move_id",
            "account_id",
            "display_type",
            "balance",
            "amount_residual",
            "date",
            "date_maturity",
            "company_id",
            "company_currency_id",
        ],
        "account.move": [
            "state",
            "move_type",
            "commercial_partner_id",
            "rbm_contract_id",
            "invoice_user_id",
            "invoice_date",
            "rbm_legal_collection",
        ],
        "account.account": ["account_type"],
        "account.partial.reconcile": ["debit_move_id", "credit_move_id", "amount", "max_date"],
        "rbm.contract": ["plan_id", "user_id", "payment_mode"],
        "rbm.boleto": ["move_line_id", "state"],
    }

    def _selection_payment_method(self):
        return self.env["rbm.contract"]._fields["payment_mode"]._description_selection(self.env)

    # ------------------------------------------------------------
    # QUERY
    # ------------------------------------------------------------

    @api.model
    def _get_aging_date(self):
        """The as-of date of the rows: context ``rbm_aging_date`` or today."""
        return fields.Date.to_date(
            self.env.context.get("rbm_aging_date")
        ) or fields.Date.context_today(self)

    @property
    def _table_query(self):
        return self._get_aging_query(self._get_aging_date())

    @api.model
    def _get_aging_query(self, as_of):
        """SQL of the open installments at ``as_of`` (a date), with the
        columns of this model. One set-based query, used by the views, the
        XLSX export, the customers' collection status and the KPIs."""
        return SQL(
            """
            SELECT i.*,
                   CASE WHEN i.legal_collection THEN 'protest'
                        WHEN i.days_overdue > 0 THEN 'overdue'
                        ELSE 'not_due' END AS portfolio_state,
                   CASE WHEN i.days_overdue <= 0 THEN '0_current'
                        WHEN i.days_overdue <= 30 THEN '1_30'
                        WHEN i.days_overdue <= 60 THEN '31_60'
                        WHEN i.days_overdue <= 90 THEN '61_90'
                        ELSE '90_plus' END AS aging_bucket,
                   CASE WHEN i.days_overdue <= 0 THEN i.amount_residual ELSE 0 END
                       AS amount_not_due,
                   CASE WHEN i.days_overdue > 0 THEN i.amount_residual ELSE 0 END
                       AS amount_overdue,
                   CASE WHEN i.days_overdue BETWEEN 1 AND 30 THEN i.amount_residual ELSE 0 END
                       AS amount_1_30,
                   CASE WHEN i.days_overdue BETWEEN 31 AND 60 THEN i.amount_residual ELSE 0 END
                       AS amount_31_60,
                   CASE WHEN i.days_overdue BETWEEN 61 AND 90 THEN i.amount_residual ELSE 0 END
                       AS amount_61_90,
                   CASE WHEN i.days_overdue > 90 THEN i.amount_residual ELSE 0 END
                       AS amount_90_plus
              FROM (
                SELECT l.id,
                       %(as_of)s::date AS as_of_date,
                       l.id AS move_line_id,
                       l.move_id,
                       m.commercial_partner_id AS partner_id,
                       l.company_id,
                       l.company_currency_id AS currency_id,
                       m.rbm_contract_id AS contract_id,
                       c.plan_id,
                       COALESCE(c.user_id, m.invoice_user_id) AS user_id,
                       CASE WHEN b.id IS NOT NULL THEN 'boleto' ELSE c.payment_mode END
                           AS payment_method,
                       b.id AS boleto_id,
                       b.state AS boleto_state,
                       (COALESCE(m.rbm_legal_collection, FALSE)
                        OR COALESCE(b.state = 'protested', FALSE)) AS legal_collection,
                       m.invoice_date,
                       COALESCE(l.date_maturity, l.date) AS date_maturity,
                       GREATEST(%(as_of)s::date - COALESCE(l.date_maturity, l.date), 0)
                           AS days_overdue,
                       l.balance AS amount_original,
                       l.balance - COALESCE(pd.amount, 0) + COALESCE(pc.amount, 0)
                           AS amount_residual
                  FROM account_move_line l
                  JOIN account_move m ON m.id = l.move_id
                  JOIN account_account a ON a.id = l.account_id
             LEFT JOIN rbm_contract c ON c.id = m.rbm_contract_id
             LEFT JOIN LATERAL (
                        SELECT SUM(p.amount) AS amount
                          FROM account_partial_reconcile p
                         WHERE p.debit_move_id = l.id AND p.max_date <= %(as_of)s
                       ) pd ON TRUE
             LEFT JOIN LATERAL (
                        SELECT SUM(p.amount) AS amount
                          FROM account_partial_reconcile p
                         WHERE p.credit_move_id = l.id AND p.max_date <= %(as_of)s
                       ) pc ON TRUE
             LEFT JOIN LATERAL (
                        SELECT bo.id, bo.state
                          FROM rbm_boleto bo
                         WHERE bo.move_line_id = l.id AND bo.state IN %(active)s
                      ORDER BY bo.id DESC
                         LIMIT 1
                       ) b ON TRUE
                 WHERE m.state = 'posted'
                   AND m.move_type IN ('out_invoice', 'out_receipt')
                   AND l.display_type = 'payment_term'
                   AND a.account_type = 'asset_receivable'
                   AND l.date <= %(as_of)s
                   AND (
                        l.amount_residual <> 0
                        OR EXISTS (
                            SELECT 1 FROM account_partial_reconcile p
                             WHERE (p.debit_move_id = l.id OR p.credit_move_id = l.id)
                               AND p.max_date > %(as_of)s
                        )
                   )
              ) i
             WHERE i.amount_residual > 0
            """,
            as_of=as_of,
            active=ACTIVE_STATES,
        )

    @api.model
    def _read_aging_rows(self, as_of, fnames, condition=None):
        """Rows (dicts of ``fnames``) of the installments open at ``as_of``
        in the user's active companies, optionally restricted by the SQL
        ``condition`` on the alias ``a``."""
        self._flush_aging_sources()
        columns = SQL(", ").join(SQL("a.%s", SQL.identifier(fname)) for fname in fnames)
        conditions = [SQL("a.company_id IN %s", tuple(self.env.companies.ids))]
        if condition:
            conditions.append(condition)
        # committed data only: read on the replica when there is one
        with replica_env(self.env) as env:
            env.cr.execute(
                SQL(
                    "SELECT %s FROM (%s) a WHERE %s ORDER BY a.date_maturity, a.id",
                    columns,
                    self._get_aging_query(as_of),
                    SQL(" AND ").join(conditions),
                )
            )
            rows = env.cr.fetchall()
        return [
            {
                fname: float(value) if isinstance(value, Decimal) else value
                for fname, value in zip(fnames, row, strict=True)
            }
            for row in rows
        ]

    def _flush_aging_sources(self):
        for model, fnames in self._depends.items():
            self.env[model].flush_model(fnames)

    # ------------------------------------------------------------
    # XLSX EXPORT
    # ------------------------------------------------------------

    @api.model
    def _get_aging_xlsx(self, as_of):
        """The aging and the receivables portfolio at ``as_of`` in the active
        companies, as an XLSX workbook (bytes) with three sheets: aging by
        customer, portfolio by payment method and status, open installments.
        Every sheet has a total per company, and a grand total when the
        companies share one currency."""
        import xlsxwriter

        fnames = [
            "company_id",
            "currency_id",
            "partner_id",
            "move_id",
            "contract_id",
            "plan_id",
            "user_id",
            "payment_method",
            "boleto_id",
            "boleto_state",
            "portfolio_state",
            "date_maturity",
            "days_overdue",
            "aging_bucket",
            "amount_residual",
        ]
        rows = self._read_aging_rows(as_of, fnames)
        names = self._get_aging_xlsx_names(rows)
        labels = {
            fname: dict(self._fields[fname]._description_selection(self.env))
            for fname in ("payment_method", "boleto_state", "portfolio_state", "aging_bucket")
        }
        buckets = [key for key, _label in AGING_BUCKETS]
        companies = sorted(
            {row["company_id"] for row in rows}, key=lambda c: names["company_id"][c]
        )
        one_currency = len({row["currency_id"] for row in rows}) <= 1

        output = io.BytesIO()
        book = xlsxwriter.Workbook(output, {"in_memory": True})
        bold = book.add_format({"bold": True})
        money = book.add_format({"num_format": "#,##0.00"})
        money_bold = book.add_format({"num_format": "#,##0.00", "bold": True})
        day = book.add_format({"num_format": "dd/mm/yyyy"})
        title = _("As of %(date)s", date=periods.format_br_date(as_of))

        def sheet_with_headers(name, headers, widths):
            sheet = book.add_worksheet(name)
            sheet.write(0, 0, title, bold)
            for col, (header, width) in enumerate(zip(headers, widths, strict=True)):
                sheet.set_column(col, col, width)
                sheet.write(2, col, header, bold)
            return sheet

        def write_totals(sheet, row, label, first_col, sums):
            sheet.write(row, 0, label, bold)
            for col, value in enumerate(sums, start=first_col):
                sheet.write_number(row, col, value, money_bold)

        def group_rows(key):
            """{company: {key(row): [rows]}} in name order."""
            grouped = {company: defaultdict(list) for company in companies}
            for row in rows:
                grouped[row["company_id"]][key(row)].append(row)
            return grouped

        def split_amounts(group, fname, keys):
            """Open amount of ``group`` per value of ``fname`` in ``keys``, then the total."""
            amounts = [
                round(sum(r["amount_residual"] for r in group if r[fname] == key), 2)
                for key in keys
            ]
            return [*amounts, round(sum(amounts), 2)]

        def write_company_total(sheet, line, first_col, company, sums, company_sums):
            """The total line of ``company``, kept in ``company_sums`` for the
            grand total; returns the next free line."""
            sums = [round(value, 2) for value in sums]
            label = _("Total %(company)s", company=names["company_id"][company])
            write_totals(sheet, line, label, first_col, sums)
            company_sums.append(sums)
            return line + 1

        def write_grand_total(sheet, line, first_col, company_sums, width):
            """The total of all companies when they share one currency."""
            if not one_currency:
                return
            total = (
                [round(sum(values), 2) for values in zip(*company_sums, strict=True)]
                if company_sums
                else [0.0] * width
            )
            write_totals(sheet, line, _("Total"), first_col, total)

        # aging by customer
        bucket_labels = [labels["aging_bucket"][key] for key in buckets]
        sheet = sheet_with_headers(
            _("Aging"),
            [_("Company"), _("Customer"), *bucket_labels, _("Total"), _("Oldest (days)")],
            [24, 36] + [14] * (len(buckets) + 1) + [14],
        )
        line = 3
        company_sums = []
        for company, by_partner in group_rows(lambda r: r["partner_id"]).items():
            sums = [0.0] * (len(buckets) + 1)
            for partner in sorted(by_partner, key=lambda p: names["partner_id"][p]):
                partner_rows = by_partner[partner]
                amounts = split_amounts(partner_rows, "aging_bucket", buckets)
                sheet.write(line, 0, names["company_id"][company])
                sheet.write(line, 1, names["partner_id"][partner])
                for col, value in enumerate(amounts, start=2):
                    sheet.write_number(line, col, value, money)
                sheet.write_number(
                    line, 2 + len(amounts), max(r["days_overdue"] for r in partner_rows)
                )
                sums = [a + b for a, b in zip(sums, amounts, strict=True)]
                line += 1
            line = write_company_total(sheet, line, 2, company, sums, company_sums)
        write_grand_total(sheet, line, 2, company_sums, len(buckets) + 1)

        # portfolio by payment method and status
        states = [key for key, _label in self._fields["portfolio_state"].selection]
        sheet = sheet_with_headers(
            _("Portfolio"),
            [
                _("Company"),
                _("Payment Method"),
                _("Boleto Status"),
                _("Installments"),
                *[labels["portfolio_state"][key] for key in states],
                _("Total"),
            ],
            [24, 24, 18, 12] + [16] * (len(states) + 1),
        )
        line = 3
        company_sums = []
        none = _("None")
        for company, groups in group_rows(
            lambda r: (r["payment_method"] or "", r["boleto_state"] or "")
        ).items():
            sums = [0.0] * (len(states) + 1)
            for method, boleto_state in sorted(groups):
                group = groups[(method, boleto_state)]
                amounts = split_amounts(group, "portfolio_state", states)
                sheet.write(line, 0, names["company_id"][company])
                sheet.write(line, 1, labels["payment_method"].get(method, none))
                sheet.write(line, 2, labels["boleto_state"].get(boleto_state, none))
                sheet.write_number(line, 3, len(group))
                for col, value in enumerate(amounts, start=4):
                    sheet.write_number(line, col, value, money)
                sums = [a + b for a, b in zip(sums, amounts, strict=True)]
                line += 1
            line = write_company_total(sheet, line, 4, company, sums, company_sums)
        write_grand_total(sheet, line, 4, company_sums, len(states) + 1)

        # installments
        columns = [
            (_("Company"), "company_id", 24),
            (_("Customer"), "partner_id", 36),
            (_("Invoice"), "move_id", 20),
            (_("Contract"), "contract_id", 16),
            (_("Plan"), "plan_id", 18),
            (_("Salesperson"), "user_id", 20),
            (_("Payment Method"), "payment_method", 20),
            (_("Boleto"), "boleto_id", 18),
            (_("Boleto Status"), "boleto_state", 16),
            (_("Due Date"), "date_maturity", 12),
            (_("Days Past Due"), "days_overdue", 12),
            (_("Aging"), "aging_bucket", 12),
            (_("Open Amount"), "amount_residual", 16),
        ]
        sheet = sheet_with_headers(
            _("Installments"), [c[0] for c in columns], [c[2] for c in columns]
        )
        line = 3
        for row in sorted(
            rows,
            key=lambda r: (
                names["company_id"][r["company_id"]],
                names["partner_id"][r["partner_id"]],
                r["date_maturity"],
                r["move_id"],
            ),
        ):
            for col, (_label, fname, _width) in enumerate(columns):
                value = row[fname]
                if fname in names:
                    sheet.write(line, col, names[fname].get(value, ""))
                elif fname in labels:
                    sheet.write(line, col, labels[fname].get(value, ""))
                elif fname == "date_maturity":
                    sheet.write_datetime(line, col, fields.Datetime.to_datetime(value), day)
                elif fname == "amount_residual":
                    sheet.write_number(line, col, float(value), money)
                else:
                    sheet.write_number(line, col, value)
            line += 1
        if one_currency:
            sheet.write(line, 0, _("Total"), bold)
            sheet.write_number(
                line,
                len(columns) - 1,
                round(sum(float(r["amount_residual"]) for r in rows), 2),
                money_bold,
            )
        book.close()
        return output.getvalue()

    def _get_aging_xlsx_names(self, rows):
        """Display names of the records the rows refer to, one read per model."""
        models_by_field = {
            "company_id": "res.company",
            "partner_id": "res.partner",
            "move_id": "account.move",
            "contract_id": "rbm.contract",
            "plan_id": "rbm.plan",
            "user_id": "res.users",
            "boleto_id": "rbm.boleto",
        }
        names = {}
        for fname, model in models_by_field.items():
            ids = {row[fname] for row in rows if row[fname]}
            records = self.env[model].browse(sorted(ids)).with_context(active_test=False)
            names[fname] = {record.id: record.display_name for record in records}
        return names
