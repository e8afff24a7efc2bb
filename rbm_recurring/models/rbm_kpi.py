import io
from datetime import date, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine import kpi as kpi_engine

MOVEMENT_KEYS = ("new", "expansion", "contraction", "churn", "reactivation")


class RbmKpi(models.AbstractModel):
    """Revenue KPIs of the subscription book (MRR, churn, retention, LTV,
    cohorts) for a period and filters. Rows are read with set-based SQL and
    computed by ``engine/kpi.py``, where every figure is defined.

    Segments (plan, product, salesperson, company) select *contracts* by their
    current values, with all their movements: the MRR of a segment always
    closes as opening + net new, and plans or salespeople partition the book.
    Amounts are summed as recorded (one currency per book is assumed).
    """

    _name = "rbm.kpi"
    _description = "Revenue KPIs"

    # ------------------------------------------------------------
    # KPIS
    # ------------------------------------------------------------

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
        """Every KPI of ``[date_from, date_to]`` for the filters (ids lists;
        ``None`` or empty: no filter, companies default to the active ones).
        See ``rbm_recurring/engine/kpi.py`` for the definitions."""
        date_from, date_to = fields.Date.to_date(date_from), fields.Date.to_date(date_to)
        if date_from > date_to:
            raise UserError(_("The start of the period must be before its end."))
        filters = self._get_kpi_filters(company_ids, plan_ids, product_ids, user_ids, currency_ids)
        rows, first_new = self._get_kpi_rows(date_from, date_to, filters)
        result = kpi_engine.compute_kpis(rows, date_from, date_to, first_new=first_new)
        for cohort in result["cohorts"]:
            cohort.pop("partner_ids")
        result.update(self._get_kpi_realised_revenue(date_to, filters))
        result["delinquency_rate"] = self._get_kpi_delinquency(date_from, date_to, filters)
        result["filters"] = filters
        result["currency_id"] = self._get_kpi_currency(filters).id
        return result

    def _get_kpi_filters(
        self, company_ids=None, plan_ids=None, product_ids=None, user_ids=None, currency_ids=None
    ):
        """Normalised filters; companies restricted to the user's companies.
        ``currency_ids``: only contracts in these currencies (the dashboard
        always sets one, so that no figure adds amounts of two currencies)."""
        if company_ids:
            allowed = set(self.env.user.company_ids.ids) | set(self.env.companies.ids)
            company_ids = [cid for cid in company_ids if cid in allowed]
        else:
            company_ids = self.env.companies.ids
        return {
            "company_ids": sorted(company_ids),
            "plan_ids": sorted(plan_ids or []),
            "product_ids": sorted(product_ids or []),
            "user_ids": sorted(user_ids or []),
            "currency_ids": sorted(currency_ids or []),
        }

    def _get_kpi_contract_condition(self, filters, alias="c"):
        """SQL condition on the ``rbm_contract`` alias for the filters."""
        table = SQL.identifier(alias)
        conditions = [SQL("%s.company_id IN %s", table, tuple(filters["company_ids"] or [0]))]
        if filters["plan_ids"]:
            conditions.append(SQL("%s.plan_id IN %s", table, tuple(filters["plan_ids"])))
        if filters["user_ids"]:
            conditions.append(SQL("%s.user_id IN %s", table, tuple(filters["user_ids"])))
        if filters.get("currency_ids"):
            conditions.append(SQL("%s.currency_id IN %s", table, tuple(filters["currency_ids"])))
        if filters["product_ids"]:
            conditions.append(
                SQL(
                    "EXISTS (SELECT 1 FROM rbm_contract_line l"
                    " WHERE l.contract_id = %s.id AND l.product_id IN %s)",
                    table,
                    tuple(filters["product_ids"]),
                )
            )
        return SQL(" AND ").join(conditions)

    def _get_kpi_contract_domain(self, filters, prefix=""):
        """The same filters as a domain (``prefix`` "contract_id." for events)."""
        domain = [(f"{prefix}company_id", "in", filters["company_ids"])]
        if filters["plan_ids"]:
            domain.append((f"{prefix}plan_id", "in", filters["plan_ids"]))
        if filters["user_ids"]:
            domain.append((f"{prefix}user_id", "in", filters["user_ids"]))
        if filters.get("currency_ids"):
            domain.append((f"{prefix}currency_id", "in", filters["currency_ids"]))
        if filters["product_ids"]:
            domain.append((f"{prefix}line_ids.product_id", "in", filters["product_ids"]))
        return domain

    def _get_kpi_rows(self, date_from, date_to, filters):
        """Engine rows: the last movement of each contract before the period
        (its opening MRR) and every movement of the period, plus the date of
        the first ``new`` movement of the customers who first started in the
        period (cohorts). Two queries."""
        self.env["rbm.mrr.event"].flush_model()
        self.env["rbm.contract"].flush_model(["company_id", "plan_id", "user_id"])
        self.env["rbm.contract.line"].flush_model(["contract_id", "product_id"])
        condition = self._get_kpi_contract_condition(filters)
        self.env.cr.execute(
            SQL(
                """
                WITH ev AS (
                    SELECT e.id, e.contract_id, e.partner_id, e.date, e.event_type,
                           e.delta, e.mrr_after
                      FROM rbm_mrr_event e
                      JOIN rbm_contract c ON c.id = e.contract_id
                     WHERE e.date <= %(date_to)s AND %(condition)s
                )
                SELECT contract_id, partner_id, date, event_type, delta, mrr_after FROM (
                    SELECT o.contract_id, o.partner_id, o.date, 'opening' AS event_type,
                           0.0 AS delta, o.mrr_after, o.id
                      FROM (SELECT DISTINCT ON (contract_id) *
                              FROM ev
                             WHERE date < %(date_from)s
                          ORDER BY contract_id, date DESC, id DESC) o
                     WHERE o.mrr_after <> 0
                    UNION ALL
                    SELECT contract_id, partner_id, date, event_type, delta, mrr_after, id
                      FROM ev
                     WHERE date >= %(date_from)s
                ) r
                ORDER BY date, id
                """,
                date_from=date_from,
                date_to=date_to,
                condition=condition,
            )
        )
        rows = self.env.cr.fetchall()
        self.env.cr.execute(
            SQL(
                """
                SELECT e.partner_id, MIN(e.date)
                  FROM rbm_mrr_event e
                  JOIN rbm_contract c ON c.id = e.contract_id
                 WHERE e.event_type = 'new' AND e.date <= %(date_to)s AND %(condition)s
              GROUP BY e.partner_id
                HAVING MIN(e.date) >= %(date_from)s
                """,
                date_from=date_from,
                date_to=date_to,
                condition=condition,
            )
        )
        first_new = dict(self.env.cr.fetchall())
        return rows, first_new

    def _get_kpi_realised_revenue(self, date_to, filters):
        """Realised lifetime revenue: untaxed amount of the paid (or being
        paid) posted customer invoices and credit notes of the contracts,
        invoiced up to ``date_to``, in total and per customer."""
        by_partner = self._get_kpi_realised_revenue_by_partner(date_to, filters)
        total = sum(by_partner.values())
        return {
            "realised_revenue": round(total, 2),
            "realised_revenue_customers": len(by_partner),
            "realised_revenue_per_customer": (
                round(total / len(by_partner), 2) if by_partner else None
            ),
        }

    def _get_kpi_realised_revenue_by_partner(self, date_to, filters, partner_ids=None, paid=True):
        """Untaxed revenue of the posted customer invoices less credit notes
        of the contracts, invoiced up to ``date_to``, per customer: the paid
        (or being paid) ones only, or all of them (``paid=False``: invoiced)."""
        self.env["account.move"].flush_model(
            ["rbm_contract_id", "commercial_partner_id", "state", "payment_state", "move_type"]
        )
        condition = self._get_kpi_contract_condition(filters)
        if partner_ids is not None:
            condition = SQL(
                "%s AND m.commercial_partner_id IN %s", condition, tuple(partner_ids) or (0,)
            )
        self.env.cr.execute(
            SQL(
                """
                SELECT m.commercial_partner_id, SUM(%(amount)s)
                  FROM account_move m
                  JOIN rbm_contract c ON c.id = m.rbm_contract_id
                 WHERE m.state = 'posted'
                   AND m.move_type IN ('out_invoice', 'out_refund')
                   AND (NOT %(paid)s OR m.payment_state IN ('paid', 'in_payment'))
                   AND m.invoice_date <= %(date_to)s
                   AND %(condition)s
              GROUP BY m.commercial_partner_id
                """,
                date_to=date_to,
                paid=paid,
                condition=condition,
                # one currency chosen: amounts in it, not in the company's
                amount=SQL("m.amount_untaxed_in_currency_signed")
                if filters.get("currency_ids")
                else SQL("m.amount_untaxed_signed"),
            )
        )
        return {partner: float(amount or 0.0) for partner, amount in self.env.cr.fetchall()}

    def _get_kpi_delinquency(self, date_from, date_to, filters):
        """Delinquency rate (inadimplência) of the period: ``None`` here.
        Extension point: the collection addon (rbm_dunning) overrides it and
        returns overdue receivables ÷ receivables for the same filters."""
        return None

    def _get_kpi_currency(self, filters):
        if filters.get("currency_ids"):
            return self.env["res.currency"].browse(filters["currency_ids"][:1])
        companies = self.env["res.company"].browse(filters["company_ids"])
        return companies[:1].currency_id or self.env.company.currency_id

    @api.model
    def _get_kpi_default_period(self, date_to=None, months=12):
        """The ``months`` calendar months ending with the month of ``date_to``
        (the current month up to today)."""
        today = fields.Date.context_today(self)
        date_to = kpi_engine.month_end(fields.Date.to_date(date_to) or today)
        date_from = kpi_engine.add_months(date_to, -(months - 1))
        # the current month is counted up to today, never to a day to come
        return date_from, min(date_to, max(today, date_from))

    @api.model
    def _get_kpi_avg_revenue_churn_rate(self, date_to=None, company_ids=None):
        """Average monthly revenue churn rate of the 12 months up to the end of
        the month before ``date_to`` (for the customers' LTV)."""
        today = fields.Date.to_date(date_to) or fields.Date.context_today(self)
        date_from, end = self._get_kpi_default_period(today.replace(day=1) - timedelta(days=1))
        filters = self._get_kpi_filters(company_ids)
        rows, first_new = self._get_kpi_rows(date_from, end, filters)
        result = kpi_engine.compute_kpis(rows, date_from, end, first_new=first_new)
        return result["avg_monthly_revenue_churn_rate"]

    @api.model
    def _get_kpi_customer_history(self, partner_ids, today):
        """Per customer: ``mrr`` today and ``months``, ``(month, MRR at its
        end)`` from the month of their first movement to the current one (up
        to today), computed by the KPI engine from their movements."""
        if not partner_ids:
            return {}
        Event = self.env["rbm.mrr.event"]
        Event.flush_model()
        rows_by_partner = {}
        events_sudo = Event.sudo().search_fetch(
            [
                ("partner_id", "in", list(partner_ids)),
                ("date", "<=", today),
                ("company_id", "in", self.env.companies.ids),
            ],
            ["contract_id", "partner_id", "date", "event_type", "delta", "mrr_after"],
            order="date, id",
        )
        for event in events_sudo:
            rows_by_partner.setdefault(event.partner_id.id, []).append(
                (
                    event.contract_id.id,
                    event.partner_id.id,
                    event.date,
                    event.event_type,
                    event.delta,
                    event.mrr_after,
                )
            )
        result = {}
        for partner_id, rows in rows_by_partner.items():
            date_from = kpi_engine.month_start(rows[0][2])
            kpis = kpi_engine.compute_kpis(rows, date_from, today)
            result[partner_id] = {
                "mrr": kpis["mrr"],
                "months": [(month["month"], month["mrr_end"]) for month in kpis["months"]],
            }
        return result

    # ------------------------------------------------------------
    # DASHBOARD (RPC)
    # ------------------------------------------------------------

    def _check_kpi_access(self):
        self.env["rbm.mrr.event"].check_access("read")

    @api.readonly
    @api.model
    def get_dashboard_data(self, date_to=None, months=12, filters=None):
        """Figures of the Revenue Dashboard (JSON): ``months`` months ending
        with the month of ``date_to``. Read only: called by the web client, it
        runs on the database replica when Odoo has one (``db_replica_host``)."""
        self._check_kpi_access()
        filters = filters or {}
        date_from, date_to = self._get_kpi_default_period(date_to, max(1, min(int(months), 36)))
        kpis = self._get_kpis(date_from, date_to, **self._get_kpi_filter_args(filters))
        currency = self.env["res.currency"].browse(kpis["currency_id"])
        return {
            **self._kpis_to_json(kpis),
            "currency": {
                "id": currency.id,
                "symbol": currency.symbol,
                "position": currency.position,
                "digits": currency.decimal_places,
            },
            "options": self._get_dashboard_options(),
        }

    def _get_kpi_filter_args(self, filters):
        """Filters of the dashboard; one currency always (the companies' by default)."""
        args = {
            key: [int(v) for v in filters.get(key) or []]
            for key in ("company_ids", "plan_ids", "product_ids", "user_ids", "currency_ids")
        }
        if not args["currency_ids"]:
            companies = self.env["res.company"].browse(
                self._get_kpi_filters(args["company_ids"])["company_ids"]
            )
            args["currency_ids"] = (companies[:1].currency_id or self.env.company.currency_id).ids
        return args

    def _get_dashboard_options(self):
        Plan = self.env["rbm.plan"].with_context(active_test=False)
        users = self.env["rbm.contract"]._read_group([("user_id", "!=", False)], ["user_id"])
        products = self.env["rbm.contract.line"]._read_group(
            [("line_type", "=", "recurring")], ["product_id"]
        )
        currencies = self.env["rbm.contract"]._read_group([], ["currency_id"])
        return {
            "currencies": [[c.id, c.name] for (c,) in currencies if c],
            "companies": [[c.id, c.name] for c in self.env.user.company_ids],
            "plans": [[p.id, p.display_name] for p in Plan.search([])],
            "users": [[u.id, u.display_name] for (u,) in users],
            "products": [[p.id, p.display_name] for (p,) in products if p],
        }

    def _kpis_to_json(self, kpis):
        def convert(value):
            if isinstance(value, date):
                return fields.Date.to_string(value)
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list):
                return [convert(v) for v in value]
            return value

        return convert(kpis)

    @api.model
    def action_kpi_drilldown(self, key, params):
        """Window action on the contracts, customers, events or invoices
        behind a dashboard figure. ``params``: ``date_to``, ``months``,
        ``filters``, optionally ``month`` (ISO first day: that month only),
        ``cohort`` (ISO month) and ``offset``."""
        self._check_kpi_access()
        date_from, date_to = self._get_kpi_default_period(
            params.get("date_to"), max(1, min(int(params.get("months") or 12), 36))
        )
        if params.get("month"):
            month = fields.Date.to_date(params["month"])
            date_from, date_to = max(month, date_from), min(kpi_engine.month_end(month), date_to)
        res_model, domain, name = self._get_kpi_drilldown(
            key,
            date_from,
            date_to,
            self._get_kpi_filters(**self._get_kpi_filter_args(params.get("filters") or {})),
            cohort=params.get("cohort") and fields.Date.to_date(params["cohort"]),
            offset=params.get("offset"),
        )
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": res_model,
            "domain": domain,
            "views": [(False, "list"), (False, "form")],
            "context": {"create": False},
            "target": "current",
        }

    def _get_kpi_drilldown(self, key, date_from, date_to, filters, cohort=None, offset=None):
        """(model, domain, title) of the records behind the KPI ``key``."""
        window = [("date", ">=", date_from), ("date", "<=", date_to)]
        event_filter = self._get_kpi_contract_domain(filters, "contract_id.")
        if key in MOVEMENT_KEYS:
            field = self.env["rbm.mrr.event"]._fields["event_type"]
            label = dict(field._description_selection(self.env))[key]
            return "rbm.mrr.event", window + event_filter + [("event_type", "=", key)], label
        if key == "net_new":
            return "rbm.mrr.event", window + event_filter, _("MRR Movements")
        rows, first_new = self._get_kpi_rows(date_from, date_to, filters)
        start_contracts, start_partners = kpi_engine.state_at(rows, date_from - timedelta(days=1))
        end_contracts, end_partners = kpi_engine.state_at(rows, date_to)
        if key in ("revenue_churn", "revenue_churn_rate", "grr"):
            domain = (
                window
                + event_filter
                + [
                    ("event_type", "in", ("churn", "contraction")),
                    ("partner_id", "in", sorted(start_partners)),
                ]
            )
            return "rbm.mrr.event", domain, _("Lost MRR of existing customers")
        if key in ("nrr", "retained_mrr"):
            domain = window + event_filter + [("partner_id", "in", sorted(start_partners))]
            return "rbm.mrr.event", domain, _("MRR movements of existing customers")
        if key in ("mrr", "arr", "mrr_end", "active_contracts", "contracts_end", "arpa"):
            return "rbm.contract", [("id", "in", sorted(end_contracts))], _("Contracts with MRR")
        if key == "mrr_start":
            return (
                "rbm.contract",
                [("id", "in", sorted(start_contracts))],
                _("Contracts with MRR at the start"),
            )
        if key in ("active_customers", "customers_end", "ltv"):
            return "res.partner", [("id", "in", sorted(end_partners))], _("Active customers")
        if key == "customers_start":
            return (
                "res.partner",
                [("id", "in", sorted(start_partners))],
                _("Active customers at the start"),
            )
        if key in ("logo_churn_rate", "churned_customers"):
            lost = sorted(start_partners - end_partners)
            return "res.partner", [("id", "in", lost)], _("Churned customers")
        if key == "cohort" and cohort:
            partners = kpi_engine.cohort_members(
                rows, date_to, cohort, None if offset is None else int(offset), first_new
            )
            return "res.partner", [("id", "in", sorted(partners))], _("Cohort customers")
        if key in ("realised_revenue", "realised_revenue_per_customer"):
            domain = self._get_kpi_contract_domain(filters, "rbm_contract_id.") + [
                ("rbm_contract_id", "!=", False),
                ("state", "=", "posted"),
                ("move_type", "in", ("out_invoice", "out_refund")),
                ("payment_state", "in", ("paid", "in_payment")),
                ("invoice_date", "<=", date_to),
            ]
            return "account.move", domain, _("Paid invoices")
        raise UserError(_("Unknown KPI %(key)s.", key=key))

    # ------------------------------------------------------------
    # XLSX EXPORT
    # ------------------------------------------------------------

    @api.model
    def _get_kpi_xlsx(self, kpis):
        """The KPIs as an XLSX workbook (bytes): summary, months, cohorts."""
        import xlsxwriter

        output = io.BytesIO()
        book = xlsxwriter.Workbook(output, {"in_memory": True})
        bold = book.add_format({"bold": True})
        money = book.add_format({"num_format": "#,##0.00"})
        pct = book.add_format({"num_format": "0.0%"})
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        month_fmt = book.add_format({"num_format": "mm/yyyy"})

        def put(sheet, row, col, value, fmt=None):
            if value is None:
                sheet.write_blank(row, col, None)
            elif isinstance(value, date):
                sheet.write_datetime(row, col, fields.Datetime.to_datetime(value), fmt or day)
            else:
                sheet.write(row, col, value, fmt)

        summary = book.add_worksheet(_("KPIs"))
        summary.set_column(0, 0, 42)
        summary.set_column(1, 1, 16)
        for row, (label, key, fmt) in enumerate(self._get_kpi_xlsx_summary_rows()):
            summary.write(row, 0, label, bold if row < 2 else None)
            put(summary, row, 1, kpis.get(key), fmt and {"money": money, "pct": pct}[fmt])

        sheet = book.add_worksheet(_("MRR by month"))
        columns = self._get_kpi_xlsx_month_columns()
        sheet.set_column(0, len(columns), 14)
        for col, (label, _key, _fmt) in enumerate(columns):
            sheet.write(0, col, label, bold)
        for row, month in enumerate(kpis["months"], start=1):
            for col, (_label, key, fmt) in enumerate(columns):
                fmt = {"money": money, "pct": pct, "month": month_fmt}.get(fmt)
                put(sheet, row, col, month.get(key), fmt)

        sheet = book.add_worksheet(_("Cohorts"))
        sheet.set_column(0, 40, 11)
        width = max((len(c["cells"]) for c in kpis["cohorts"]), default=0)
        headers = [_("Cohort"), _("Customers"), _("Starting MRR")]
        for n in range(width):
            headers.append(_("Month %(n)s", n=n))
        for col, label in enumerate(headers):
            sheet.write(0, col, label, bold)
        row = 1
        for cohort in kpis["cohorts"]:
            for kind, key in ((_("customers"), "customer_rate"), (_("MRR"), "mrr_rate")):
                put(sheet, row, 0, cohort["month"], month_fmt)
                sheet.write(row, 1, cohort["customers"])
                put(sheet, row, 2, cohort["mrr"], money)
                sheet.write(row, 3 + width, kind)
                for cell in cohort["cells"]:
                    put(sheet, row, 3 + cell["offset"], cell[key], pct)
                row += 1
        book.close()
        return output.getvalue()

    def _get_kpi_xlsx_summary_rows(self):
        return [
            (_("Period start"), "date_from", None),
            (_("Period end"), "date_to", None),
            (_("MRR"), "mrr", "money"),
            (_("ARR"), "arr", "money"),
            (_("Opening MRR"), "mrr_start", "money"),
            (_("Active customers"), "active_customers", None),
            (_("Active contracts"), "active_contracts", None),
            (_("New MRR"), "new", "money"),
            (_("Expansion MRR"), "expansion", "money"),
            (_("Contraction MRR"), "contraction", "money"),
            (_("Churned MRR"), "churn", "money"),
            (_("Reactivation MRR"), "reactivation", "money"),
            (_("Net new MRR"), "net_new", "money"),
            (_("Churned customers (of those at the start)"), "churned_customers", None),
            (_("Customers lost in the period"), "customers_lost", None),
            (_("Logo churn rate"), "logo_churn_rate", "pct"),
            (_("Revenue churn rate"), "revenue_churn_rate", "pct"),
            (_("Gross revenue retention"), "grr", "pct"),
            (_("Net revenue retention"), "nrr", "pct"),
            (_("ARPA"), "arpa", "money"),
            (_("Average monthly revenue churn rate"), "avg_monthly_revenue_churn_rate", "pct"),
            (_("LTV"), "ltv", "money"),
            (_("Realised revenue (paid invoices)"), "realised_revenue", "money"),
            (_("Realised revenue per customer"), "realised_revenue_per_customer", "money"),
            (_("Delinquency rate"), "delinquency_rate", "pct"),
        ]

    def _get_kpi_xlsx_month_columns(self):
        return [
            (_("Month"), "month", "month"),
            (_("Opening MRR"), "mrr_start", "money"),
            (_("New"), "new", "money"),
            (_("Expansion"), "expansion", "money"),
            (_("Contraction"), "contraction", "money"),
            (_("Churn"), "churn", "money"),
            (_("Reactivation"), "reactivation", "money"),
            (_("Net new"), "net_new", "money"),
            (_("Closing MRR"), "mrr_end", "money"),
            (_("Customers"), "customers_end", None),
            (_("Contracts"), "contracts_end", None),
            (_("Churned customers"), "churned_customers", None),
            (_("Logo churn rate"), "logo_churn_rate", "pct"),
            (_("Revenue churn rate"), "revenue_churn_rate", "pct"),
            (_("GRR"), "grr", "pct"),
            (_("NRR"), "nrr", "pct"),
        ]

    @api.model
    def _get_kpi_xlsx_from_params(self, params):
        """XLSX of the dashboard's current figures (controller)."""
        self._check_kpi_access()
        date_from, date_to = self._get_kpi_default_period(
            params.get("date_to"), max(1, min(int(params.get("months") or 12), 36))
        )
        kpis = self._get_kpis(
            date_from, date_to, **self._get_kpi_filter_args(params.get("filters") or {})
        )
        name = f"revenue-kpis-{date_to:%Y-%m}.xlsx"
        return name, self._get_kpi_xlsx(kpis)
