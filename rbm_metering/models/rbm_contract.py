import csv
import io
import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal

from odoo import _, api, fields, models
from odoo.tools import SQL

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import rating

# usage events a statement shows (the billing run counts the accepted ones)
STATEMENT_STATES = ("accepted", "rated", "invoiced")


class RbmContract(models.Model):
    _inherit = "rbm.contract"

    usage_count = fields.Integer(compute="_compute_usage_count")

    def _compute_usage_count(self):
        data = self.env["rbm.usage"]._read_group(
            [("contract_id", "in", self.ids)], ["contract_id"], ["__count"]
        )
        counts = {contract.id: count for contract, count in data}
        for contract in self:
            contract.usage_count = counts.get(contract.id, 0)

    def action_view_usage(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("rbm_metering.rbm_usage_action")
        action["domain"] = [("contract_id", "=", self.id)]
        action["context"] = {"default_contract_id": self.id}
        return action

    def action_open_usage_statement(self):
        check_staff_access(self, "read")
        self.ensure_one()
        statement = self.env["rbm.usage.statement"].create({"contract_id": self.id})
        return statement._get_reopen_action()

    # ------------------------------------------------------------
    # USAGE PERIODS
    # ------------------------------------------------------------

    def _has_billable_lines(self):
        # a pay-as-you-go contract has only usage lines
        return super()._has_billable_lines() or any(
            line.line_type == "usage" and line.is_current for line in self.line_ids
        )

    def _get_usage_tz(self):
        """Time zone whose days and periods the usage is counted in: the
        customer's (partner time zone), else the company's, else UTC. An event
        at 23:30 in São Paulo on the last day of a period (02:30 UTC the next
        day) belongs to that period."""
        self.ensure_one()
        name = self.partner_id._rbm_get_tz(self.company_id)
        return getattr(rating.get_zone(name), "key", "UTC")

    def _get_usage_day_start(self, day):
        """Naive UTC datetime at which the local ``day`` begins (see ``_get_usage_tz``)."""
        self.ensure_one()
        return rating.day_start_utc(day, self._get_usage_tz())

    def _get_usage_open_from(self):
        """First day whose usage is not invoiced yet; ``False`` when no usage
        was invoiced. In arrears a period bills its own usage; in advance the
        invoice of a period bills the usage of the period before it, and the
        final usage invoice (see ``_get_final_usage_period``) the usage up to
        the end. A day after the end means nothing is open any more."""
        self.ensure_one()
        start = self.next_period_start
        if not start or not self.period_anchor:
            return False
        if self.plan_id.billing_mode == "arrears":
            return start
        if start <= self.date_start:
            return False
        final = self._get_final_usage_range()
        if final and start > final[1]:
            return final[0]  # the final usage invoice is billed: nothing is open
        previous = self._get_period_containing(start - timedelta(days=1))
        return max(previous["full_start"], self.date_start)

    def _get_usage_window(self, period):
        """Days whose usage the invoice of ``period`` bills, as ``{"start",
        "end" (inclusive), "full_start", "full_end"}``, or ``False``."""
        self.ensure_one()
        if self.plan_id.billing_mode == "arrears":
            return {
                "start": period["start"],
                "end": period["end"],
                "full_start": period["full_start"],
                "full_end": period["full_end"],
            }
        if period["start"] <= self.date_start:
            return False
        end = period["start"] - timedelta(days=1)
        previous = self._get_period_containing(end)
        return {
            "start": max(previous["full_start"], self.date_start),
            "end": end,
            "full_start": previous["full_start"],
            "full_end": previous["full_end"],
        }

    def _get_usage_lines(self, window):
        """Usage lines valid in ``window``: the latest one per metric."""
        self.ensure_one()
        result = {}
        for line in self.line_ids.sorted(
            lambda ln: (ln.date_start or ln.contract_id.date_start, ln.id)
        ):
            if line.line_type != "usage" or not line.metric_id:
                continue
            if line.date_start and line.date_start > window["end"]:
                continue
            if line.date_end and line.date_end < window["start"]:
                continue
            result[line.metric_id] = line
        return list(result.values())

    # ------------------------------------------------------------
    # BILLING RUN
    # ------------------------------------------------------------

    @api.depends("line_ids.metric_id", "line_ids.line_type", "trial_end")
    def _compute_next_invoice_date(self):
        # the final usage invoice of an ended contract (_get_final_usage_period)
        return super()._compute_next_invoice_date()

    def _get_period_after(self, period_start, until=None):
        return super()._get_period_after(period_start, until) or self._get_final_usage_period(
            period_start, until
        )

    def _get_final_usage_period(self, period_start, until=None):
        """The final usage invoice of an ended contract billed in advance, or
        ``False``.

        In advance, the invoice of a period bills the usage of the period
        before it; the last period has no next invoice. Its usage is billed by
        one more invoice, dated the day after the end (when every event of the
        last day can have arrived): a "period" that starts the day after the
        end and has no day of service (``end`` before ``start``), so that it
        bills no recurring line and its usage window is
        ``_get_usage_window``'s, the last period up to the end.

        It is due while the contract's next period start lies between the day
        after the end and the day after the last period (a period billed in
        full before an early cancellation ends there); once billed, or found
        empty, the next period start moves one day further (see
        ``_get_final_usage_range``) and the unique index on (contract, period
        start) keeps it to one invoice. Not for a contract that ended during
        its trial."""
        self.ensure_one()
        if until or not period_start:
            return False
        bounds = self._get_final_usage_range()
        if not bounds or not bounds[0] <= period_start <= bounds[1]:
            return False
        end = self.date_end
        return {
            "start": bounds[0],
            "end": end,
            "full_start": bounds[0],
            "full_end": end,
            "invoice_date": bounds[0],
            "next_start": bounds[1] + timedelta(days=1),
            "usage_only": True,
        }

    def _get_final_usage_range(self):
        """(first, last) next period start for which the final usage invoice
        is still due: the day after the end, and the day after the period
        containing the end; ``False`` for a contract that has none (not
        ended, in arrears, no usage line, ended during its trial)."""
        self.ensure_one()
        end = self.date_end
        if (
            not end
            or self.plan_id.billing_mode != "advance"
            or not self.period_anchor
            or end < (self.trial_end + timedelta(days=1) if self.trial_end else self.date_start)
            or not any(line.line_type == "usage" and line.metric_id for line in self.line_ids)
        ):
            return False
        return end + timedelta(days=1), self._get_period_containing(end)["full_end"] + timedelta(
            days=1
        )

    def _prepare_billing_state(self, due):
        state = super()._prepare_billing_state(due)
        ratings = []
        for contract in self:
            low = None  # the first window also takes older events not invoiced yet
            for period in due.get(contract, ()):
                window = contract._get_usage_window(period)
                if not window:
                    continue
                high = contract._get_usage_day_start(window["end"] + timedelta(days=1))
                for line in contract._get_usage_lines(window):
                    ratings.append(
                        {
                            "contract": contract,
                            "period_start": period["start"],
                            "line": line,
                            "metric": line.metric_id,
                            "window": window,
                            "low": low,
                            "high": high,
                            "start": contract._get_usage_day_start(window["start"]),
                        }
                    )
                low = high
        ratings = self._expand_price_filters(ratings)
        self._aggregate_usage(ratings)
        by_period = defaultdict(list)
        for item in ratings:
            by_period[item["contract"].id, item["period_start"]].append(item)
        state["usage"] = by_period
        state["usage_rated"] = []
        return state

    @api.model
    def _expand_price_filters(self, items):
        """One rating item per price of a line priced by an event property
        (Lago's charge filters): one per value listed (``filter``, the
        events whose property has that value) and one for the line's own
        price (the events with any other value or without the property).
        Every item gets ``filter``, ``prop`` (the property or ``None``),
        ``value`` and ``others`` (the values listed, for the default item),
        which the SQL of the aggregation and of the rating apply."""
        result = []
        for item in items:
            line = item["line"]
            rows = line.price_filter_ids if line.price_property else line.price_filter_ids.browse()
            if not line.price_property:
                result.append({**item, "filter": rows, "prop": None, "value": None, "others": None})
                continue
            for row in rows:
                result.append(
                    {**item, "filter": row, "prop": line.price_property, "value": row.value}
                    | {"others": None}
                )
            result.append(
                {**item, "filter": rows.browse(), "prop": line.price_property, "value": None}
                | {"others": rows.mapped("value")}
            )
        return result

    @api.model
    def _get_price_filter_sql(self, item):
        """The ``(property, value, other values)`` columns of a rating item
        in the SQL ``VALUES`` (see ``_expand_price_filters``)."""
        return SQL(
            "%s::text, %s::text, %s::text[]",
            item.get("prop"),
            item.get("value"),
            item.get("others") or [],
        )

    @api.model
    def _get_price_filter_condition(self, items):
        """The events of a rating item, on the columns ``pkey``, ``pval`` and
        ``pothers`` of its ``VALUES`` row (see ``_get_price_filter_sql``);
        ``TRUE`` when none of ``items`` is priced by property (no test per
        event then)."""
        if not any(item.get("prop") for item in items):
            return SQL("TRUE")
        return SQL(
            """
            (v.pkey IS NULL
             OR (v.pval IS NOT NULL AND u.properties ->> v.pkey = v.pval)
             OR (v.pval IS NULL AND (u.properties ->> v.pkey IS NULL
                                     OR NOT (u.properties ->> v.pkey = ANY (v.pothers)))))
            """
        )

    @api.model
    def _aggregate_usage(self, ratings, statement=False):
        """Set ``quantity`` and ``count`` on each rating item: one SQL query for
        the SQL aggregations, one for the events of time-weighted metrics.

        The billing run (``statement=False``) counts the events not invoiced
        yet; a usage statement (``statement=True``) counts every event of its
        window that was not rejected, invoiced or not, with the same SQL and
        the same rounding, so that its figures are the invoice's."""
        if not ratings:
            return
        counted = STATEMENT_STATES if statement else ("accepted",)
        before = STATEMENT_STATES if statement else ("rated", "invoiced")
        self.env["rbm.usage"].flush_model()
        simple = [r for r in ratings if r["metric"].aggregation != "time_weighted_sum"]
        weighted = [r for r in ratings if r["metric"].aggregation == "time_weighted_sum"]
        if simple:
            values = SQL(", ").join(
                SQL(
                    "(%s, %s, %s, %s::timestamp, %s::timestamp, %s, %s)",
                    index,
                    item["contract"].id,
                    item["metric"].id,
                    item["low"],
                    item["high"],
                    item["metric"].unique_property or "",
                    self._get_price_filter_sql(item),
                )
                for index, item in enumerate(simple)
            )
            query = SQL(
                """
                SELECT v.idx, COUNT(u.id), SUM(u.quantity), MAX(u.quantity),
                       COUNT(DISTINCT u.properties ->> v.prop),
                       (ARRAY_AGG(u.quantity ORDER BY u.timestamp DESC, u.id DESC))[1] %s
                  FROM (VALUES %s)
                    AS v(idx, contract_id, metric_id, low, high, prop, pkey, pval, pothers)
                  JOIN rbm_usage u
                    ON u.contract_id = v.contract_id
                   AND u.metric_id = v.metric_id
                   AND u.state IN %s
                   AND (v.low IS NULL OR u.effective_timestamp >= v.low)
                   AND u.effective_timestamp < v.high
                   AND %s
                 GROUP BY v.idx
                """,
                self._get_last_event_columns() if statement else SQL(),
                values,
                counted,
                self._get_price_filter_condition(simple),
            )
            if statement:
                # the events of the window still kept, plus the daily totals
                # of the ones deleted after the retention period
                query = self._get_statement_totals_query(simple, query, per_day=False)
            self.env.cr.execute(query)
            column = {"sum": 2, "max": 3, "count": 1, "count_unique": 4, "last": 5}
            rows = {row[0]: row for row in self.env.cr.fetchall()}
            for index, item in enumerate(simple):
                row = rows.get(index)
                item["count"] = row[1] if row else 0
                value = row[column[item["metric"].aggregation]] if row else 0
                item["quantity"] = item["metric"]._round_quantity(rating.to_decimal(value or 0))
            self._aggregate_event_amounts(
                [r for r in simple if (r.get("filter") or r["line"])._needs_event_amounts()],
                counted,
            )
        if weighted:
            values = SQL(", ").join(
                SQL(
                    "(%s, %s, %s, %s::timestamp, %s::timestamp, %s::timestamp)",
                    index,
                    item["contract"].id,
                    item["metric"].id,
                    item["low"],
                    item["high"],
                    item["start"],
                )
                for index, item in enumerate(weighted)
            )
            # the level at the window start (latest event before it), then the
            # events inside; late events not invoiced yet count from the start
            self.env.cr.execute(
                SQL(
                    """
                    SELECT v.idx, e.ts, e.quantity, e.counted
                      FROM (VALUES %s) AS v(idx, contract_id, metric_id, low, high, start)
                      CROSS JOIN LATERAL (
                          (SELECT u.effective_timestamp AS ts, u.quantity, FALSE AS counted
                             FROM rbm_usage u
                            WHERE u.contract_id = v.contract_id AND u.metric_id = v.metric_id
                              AND u.state IN %s
                              AND u.effective_timestamp < v.start
                            ORDER BY u.effective_timestamp DESC, u.id DESC
                            LIMIT 1)
                          UNION ALL
                          (SELECT GREATEST(u.effective_timestamp, v.start), u.quantity,
                                  u.state = 'accepted'
                             FROM rbm_usage u
                            WHERE u.contract_id = v.contract_id AND u.metric_id = v.metric_id
                              AND u.state IN ('accepted', 'rated', 'invoiced')
                              AND (u.effective_timestamp >= v.start OR u.state = 'accepted')
                              AND (v.low IS NULL OR u.effective_timestamp >= v.low
                                   OR u.state != 'accepted')
                              AND u.effective_timestamp < v.high
                            ORDER BY 1, u.id)
                      ) AS e
                    """,
                    values,
                    before,
                )
            )
            events = defaultdict(list)
            counts = defaultdict(int)
            for index, timestamp, quantity, counted in self.env.cr.fetchall():
                events[index].append((timestamp, quantity))
                counts[index] += 1 if counted else 0
            for index, item in enumerate(weighted):
                metric = item["metric"]
                item["count"] = counts[index]
                item["quantity"] = metric._round_quantity(
                    rating.time_weighted_sum(
                        events[index],
                        item["start"],
                        item["high"],
                        unit_seconds=metric._get_time_unit_seconds(),
                    )
                )

    @api.model
    def _get_last_event_columns(self):
        """Timestamp and id of the latest event of an aggregation on ``u``
        (the order of the ``last`` aggregation), to compare with the latest
        event of the daily totals (see ``_get_statement_totals_query``)."""
        return SQL(", MAX(u.timestamp), (ARRAY_AGG(u.id ORDER BY u.timestamp DESC, u.id DESC))[1]")

    @api.model
    def _get_statement_totals_query(self, items, query, per_day):
        """The statement's aggregation ``query`` of the events of ``items``
        (rows: index, [day,] count, sum, max, unique count, last quantity, its
        timestamp and id) with the daily totals (``rbm.usage.daily``) of the
        events deleted after the retention period added. A daily total
        counts the events deleted into it only, so the sum of both is the
        figure of all the events of the window. Every event of a metric whose
        unique count or time-weighted sum a daily total would lose is kept:
        no daily total adds to those. The events of a price by property
        value are the ones its invoice line billed."""
        self.env["rbm.usage.daily"].flush_model()
        window_values = SQL(", ").join(
            SQL(
                "(%s, %s, %s, %s::date, %s::date, %s::text, %s)",
                index,
                item["contract"].id,
                item["metric"].id,
                item["window"]["start"],
                item["window"]["end"],
                item.get("prop"),
                item["filter"].id if item.get("filter") else 0,
            )
            for index, item in enumerate(items)
        )
        day = SQL("d.day,") if per_day else SQL()
        group = SQL("v.idx, d.day") if per_day else SQL("v.idx")
        return SQL(
            """
            SELECT s.idx, %(day_out)s SUM(s.n), SUM(s.total), MAX(s.top), SUM(s.uniq),
                   (ARRAY_AGG(s.last ORDER BY s.last_ts DESC, s.last_id DESC))[1]
              FROM (
                   (%(events)s)
                    UNION ALL
                   (SELECT v.idx, %(day)s SUM(d.event_count), SUM(d.quantity),
                           MAX(d.quantity_max), 0,
                           (ARRAY_AGG(d.quantity_last
                                      ORDER BY d.last_timestamp DESC, d.last_event_id DESC))[1],
                           MAX(d.last_timestamp),
                           (ARRAY_AGG(d.last_event_id
                                      ORDER BY d.last_timestamp DESC, d.last_event_id DESC))[1]
                      FROM (VALUES %(windows)s)
                        AS v(idx, contract_id, metric_id, first_day, last_day, pkey, filter_id)
                      JOIN rbm_usage_daily d
                        ON d.contract_id = v.contract_id
                       AND d.metric_id = v.metric_id
                       AND d.day BETWEEN v.first_day AND v.last_day
                      JOIN account_move_line l ON l.id = d.invoice_line_id
                     WHERE v.pkey IS NULL OR COALESCE(l.rbm_price_filter_id, 0) = v.filter_id
                     GROUP BY %(group)s)
                   ) AS s(idx, %(day_col)s n, total, top, uniq, last, last_ts, last_id)
             GROUP BY s.idx %(day_group)s
            """,
            day_out=SQL("s.day,") if per_day else SQL(),
            events=query,
            day=day,
            windows=window_values,
            group=group,
            day_col=SQL("day,") if per_day else SQL(),
            day_group=SQL(", s.day") if per_day else SQL(),
        )

    @api.model
    def _aggregate_event_amounts(self, items, counted):
        """Set ``amounts`` on each rating item of a percentage line with
        per-event rules (minimum, maximum, free events): the quantity of each
        event counted, in timestamp order, one query for all the items."""
        if not items:
            return
        values = SQL(", ").join(
            SQL(
                "(%s, %s, %s, %s::timestamp, %s::timestamp, %s)",
                index,
                item["contract"].id,
                item["metric"].id,
                item["low"],
                item["high"],
                self._get_price_filter_sql(item),
            )
            for index, item in enumerate(items)
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT v.idx, ARRAY_AGG(u.quantity::text ORDER BY u.timestamp, u.id)
                  FROM (VALUES %s)
                    AS v(idx, contract_id, metric_id, low, high, pkey, pval, pothers)
                  JOIN rbm_usage u
                    ON u.contract_id = v.contract_id
                   AND u.metric_id = v.metric_id
                   AND u.state IN %s
                   AND (v.low IS NULL OR u.effective_timestamp >= v.low)
                   AND u.effective_timestamp < v.high
                   AND %s
                 GROUP BY v.idx
                """,
                values,
                counted,
                self._get_price_filter_condition(items),
            )
        )
        # the quantities as text: exact, and read without a float on the way
        amounts = {index: list(map(Decimal, texts)) for index, texts in self.env.cr.fetchall()}
        for index, item in enumerate(items):
            item["amounts"] = amounts.get(index, [])

    def _prepare_extra_invoice_line_vals(self, period, state, quantum, lang):
        result = super()._prepare_extra_invoice_line_vals(period, state, quantum, lang)
        for item in state.get("usage", {}).get((self.id, period["start"]), []):
            vals = item["line"]._prepare_usage_invoice_line_vals(item, quantum, lang)
            if vals:
                result.append(vals)
                state["usage_rated"].append(item)
        return result

    def _after_billing(self, moves, state):
        result = super()._after_billing(moves, state)
        rated = state.get("usage_rated")
        if not rated or not moves:
            return result
        invoice_lines = {}
        for move in moves:
            for line in move.invoice_line_ids:
                if line.rbm_contract_line_id.line_type == "usage":
                    key = (
                        move.rbm_contract_id.id,
                        move.rbm_period_start,
                        line.rbm_contract_line_id.id,
                        line.rbm_price_filter_id.id,
                    )
                    invoice_lines[key] = line.id
        values = [
            SQL(
                "(%s, %s, %s, %s::timestamp, %s::timestamp, %s)",
                invoice_lines[key],
                item["contract"].id,
                item["metric"].id,
                item["low"],
                item["high"],
                self._get_price_filter_sql(item),
            )
            for item in rated
            if (
                key := (
                    item["contract"].id,
                    item["period_start"],
                    item["line"].id,
                    item["filter"].id if item.get("filter") else False,
                )
            )
            in invoice_lines
        ]
        if not values:
            return result
        self.env["rbm.usage"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                UPDATE rbm_usage u
                   SET state = 'rated', invoice_line_id = v.line_id,
                       write_uid = %s, write_date = now() AT TIME ZONE 'UTC'
                  FROM (VALUES %s)
                    AS v(line_id, contract_id, metric_id, low, high, pkey, pval, pothers)
                 WHERE u.contract_id = v.contract_id
                   AND u.metric_id = v.metric_id
                   AND u.state = 'accepted'
                   AND (v.low IS NULL OR u.effective_timestamp >= v.low)
                   AND u.effective_timestamp < v.high
                   AND %s
                """,
                self.env.uid,
                SQL(", ").join(values),
                self._get_price_filter_condition(rated),
            )
        )
        self.env["rbm.usage"].invalidate_model()  # invoice_id is related to the line
        return result

    # ------------------------------------------------------------
    # USAGE STATEMENT
    # ------------------------------------------------------------

    def _get_statement_window(self, day=None):
        """Usage window of the billing period containing ``day`` (default
        today), clipped to the contract dates: ``{"start", "end" (inclusive),
        "full_start", "full_end"}`` — the window an invoice rates (see
        ``_get_usage_window``). ``day`` is clamped to the contract dates."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        last = min(today, self.date_end) if self.date_end else today
        day = day or today
        day = max(min(day, max(last, self.date_start)), self.date_start)
        period = self._get_period_containing(day)
        end = period["full_end"]
        if self.date_end:
            end = min(end, self.date_end)
        return {
            "start": max(period["full_start"], self.date_start),
            "end": end,
            "full_start": period["full_start"],
            "full_end": period["full_end"],
        }

    def _get_statement_windows(self, limit=24):
        """Usage windows from today (or the contract end) back to the contract
        start, latest first, at most ``limit``."""
        self.ensure_one()
        result = []
        if not self.date_start or self.state == "draft":
            return result
        window = self._get_statement_window()
        while len(result) < limit:
            result.append(window)
            if window["start"] <= self.date_start:
                break
            window = self._get_statement_window(window["start"] - timedelta(days=1))
        return result

    @api.model
    def _parse_statement_day(self, value):
        """A date from a ``YYYY-MM-DD`` text (the period start), or ``None``."""
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat((value or "").strip()[:10])
        except ValueError:
            return None

    def _get_usage_statement(self, day=None):
        """Usage statement of the period containing ``day`` (default: the
        current one): per usage line of the contract, the quantity, the
        allowance used and the charge, rated with the code of the billing run
        (``_aggregate_usage`` and ``rbm.contract.line._rate_usage``), and the
        daily series. Quantities are :class:`~decimal.Decimal`."""
        self.ensure_one()
        window = self._get_statement_window(self._parse_statement_day(day))
        low = self._get_usage_day_start(window["start"])
        high = self._get_usage_day_start(window["end"] + timedelta(days=1))
        items = [
            {
                "contract": self,
                "period_start": window["start"],
                "line": line,
                "metric": line.metric_id,
                "window": window,
                "low": low,
                "high": high,
                "start": low,
            }
            for line in self._get_usage_lines(window)
        ]
        items = self._expand_price_filters(items)
        self._aggregate_usage(items, statement=True)
        daily = self._get_usage_daily(items)
        quantum = self._get_quantum()
        lang = self.env.lang or self.partner_id.lang or "en_US"
        lang_data = self.env["res.lang"]._get_data(code=lang)
        days = [
            window["start"] + timedelta(days=offset)
            for offset in range((window["end"] - window["start"]).days + 1)
        ]
        metrics = []
        total = rating.ZERO
        for index, item in enumerate(items):
            line, metric = item["line"], item["metric"]
            result, allowance = line._rate_usage(
                item["quantity"],
                window,
                quantum,
                item.get("count", 0),
                item.get("amounts"),
                item.get("filter"),
            )
            if item.get("prop") and not (item["count"] or result.amount):
                continue  # a property value without events in the period
            total += result.amount
            unit = metric.unit_label or ""

            def fmt(value, metric=metric):
                return rating.format_quantity(
                    value,
                    lang,
                    metric.rounding_digits,
                    decimal_point=lang_data.decimal_point if lang_data else None,
                    thousands_sep=lang_data.thousands_sep if lang_data else None,
                )

            series = daily.get(index, {}).get("values", {})
            values = [series.get(day_, rating.ZERO) for day_ in days]
            if metric.aggregation in ("last", "time_weighted_sum"):
                # a level holds until the next event
                level = rating.ZERO
                for index, day_ in enumerate(days):
                    level = series.get(day_, level)
                    values[index] = level
            # floor: 99.6% of the allowance is not "100%"
            used = (
                int((item["quantity"] * 100 / allowance).to_integral_value(ROUND_FLOOR))
                if allowance
                else None
            )
            metrics.append(
                {
                    "line": line,
                    "metric": metric,
                    "name": line._get_usage_item_label(item),
                    "unit": unit,
                    "quantity": item["quantity"],
                    "quantity_text": fmt(item["quantity"]),
                    "count": daily.get(index, {}).get("count", 0),
                    "allowance": allowance,
                    "allowance_text": fmt(allowance) if allowance else "",
                    "used_percent": used,
                    "billable": result.billable,
                    "billable_text": fmt(result.billable),
                    "amount": result.amount,
                    "price_model": (item.get("filter") or line).price_model,
                    "daily": list(zip(days, values, strict=True)),
                    "daily_text": [fmt(value) for value in values],
                    "chart": self._prepare_usage_chart(days, values, metric, allowance, fmt),
                }
            )
        invoice = self._get_statement_invoice(window, items)
        return {
            "contract": self,
            "window": window,
            "days": days,
            "metrics": metrics,
            "total": total,
            "currency": self.currency_id,
            "invoice": invoice,
            "is_open": not invoice,
            "period_text": self._format_period(window, lang),
            "windows": self._get_statement_windows(),
        }

    def _get_usage_daily(self, items):
        """Daily series of the statement items: ``{item index: {"values": {date:
        value}, "count": events}}`` (the metric's aggregation applied to each
        day), one query."""
        self.ensure_one()
        if not items:
            return {}
        values = SQL(", ").join(
            SQL(
                "(%s, %s, %s, %s::timestamp, %s::timestamp, %s)",
                index,
                item["metric"].id,
                item["metric"].unique_property or "",
                item["low"],
                item["high"],
                self._get_price_filter_sql(item),
            )
            for index, item in enumerate(items)
        )
        query = SQL(
            """
            SELECT v.line_id,
                   (u.effective_timestamp AT TIME ZONE 'UTC' AT TIME ZONE %s)::date,
                   COUNT(u.id), SUM(u.quantity),
                   MAX(u.quantity), COUNT(DISTINCT u.properties ->> v.prop),
                   (ARRAY_AGG(u.quantity ORDER BY u.timestamp DESC, u.id DESC))[1] %s
              FROM (VALUES %s)
                AS v(line_id, metric_id, prop, low, high, pkey, pval, pothers)
              JOIN rbm_usage u
                ON u.contract_id = %s
               AND u.metric_id = v.metric_id
               AND u.state IN %s
               AND u.effective_timestamp >= v.low
               AND u.effective_timestamp < v.high
               AND %s
             GROUP BY 1, 2
            """,
            self._get_usage_tz(),
            self._get_last_event_columns(),
            values,
            self.id,
            STATEMENT_STATES,
            self._get_price_filter_condition(items),
        )
        self.env.cr.execute(self._get_statement_totals_query(items, query, per_day=True))
        column = {
            "sum": 3,
            "max": 4,
            "count": 2,
            "count_unique": 5,
            "last": 6,
            "time_weighted_sum": 6,
        }
        metrics = dict(enumerate(item["metric"] for item in items))
        result = defaultdict(lambda: {"values": {}, "count": 0})
        for row in self.env.cr.fetchall():
            metric = metrics[row[0]]
            result[row[0]]["values"][row[1]] = metric._round_quantity(
                rating.to_decimal(row[column[metric.aggregation]] or 0)
            )
            result[row[0]]["count"] += row[2]
        return result

    @api.model
    def _prepare_usage_chart(self, days, values, metric, allowance, fmt, width=720, height=200):
        """Geometry of a server-side SVG bar chart of the daily series."""
        top = max([*values, rating.ZERO])
        level = metric.aggregation in ("max", "last", "time_weighted_sum")
        if level and allowance:
            top = max(top, allowance)
        top = top or rating.to_decimal(1)
        left, bottom, right, head = 48, 22, 8, 24
        plot_w, plot_h = width - left - right, height - bottom - head
        step = plot_w / max(len(days), 1)
        bar_w = max(step * 0.7, 1.0)

        def y(value):
            return head + plot_h - float(value) / float(top) * plot_h

        bars = []
        for index, (day, value) in enumerate(zip(days, values, strict=True)):
            bars.append(
                {
                    "x": round(left + index * step + (step - bar_w) / 2, 2),
                    "y": round(y(value), 2),
                    "w": round(bar_w, 2),
                    "h": round(head + plot_h - y(value), 2),
                    "title": f"{day.strftime('%d/%m')}: {fmt(value)}",
                }
            )
        every = max(1, round(len(days) / 8))
        labels = [
            {"x": round(left + index * step + step / 2, 2), "text": day.strftime("%d/%m")}
            for index, day in enumerate(days)
            if index % every == 0
        ]
        ticks = [
            {"y": round(y(top * fraction / 2), 2), "text": fmt(top * fraction / 2)}
            for fraction in (0, 1, 2)
        ]
        return {
            "width": width,
            "height": height,
            "left": left,
            "right": width - right,
            "bottom": head + plot_h,
            "bars": bars,
            "labels": labels,
            "ticks": ticks,
            "allowance_y": round(y(allowance), 2) if level and allowance else None,
            "allowance_text": fmt(allowance) if allowance else "",
        }

    def _get_statement_invoice(self, window, items):
        """The invoice that billed the usage of ``window``, if any."""
        self.ensure_one()
        if not items:
            return self.env["account.move"]
        self.env.cr.execute(
            SQL(
                """
                SELECT l.move_id FROM rbm_usage u
                  JOIN account_move_line l ON l.id = u.invoice_line_id
                 WHERE u.contract_id = %s AND u.state IN ('rated', 'invoiced')
                   AND u.effective_timestamp >= %s AND u.effective_timestamp < %s
                 LIMIT 1
                """,
                self.id,
                items[0]["low"],
                items[0]["high"],
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            # its events deleted after the retention period: their daily totals
            self.env["rbm.usage.daily"].flush_model()
            window = items[0]["window"]
            self.env.cr.execute(
                SQL(
                    """
                    SELECT l.move_id FROM rbm_usage_daily d
                      JOIN account_move_line l ON l.id = d.invoice_line_id
                     WHERE d.contract_id = %s AND d.day BETWEEN %s AND %s
                     LIMIT 1
                    """,
                    self.id,
                    window["start"],
                    window["end"],
                )
            )
            row = self.env.cr.fetchone()
        return self.env["account.move"].browse(row[0] if row else [])

    def _get_statement_csv(self, statement):
        """The statement as CSV text: one row per metric and day, then one
        total row per metric (date ``total``) with the allowance and charge."""
        self.ensure_one()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            [
                "contract",
                "period_start",
                "period_end",
                "date",
                "metric",
                "metric_name",
                "unit",
                "quantity",
                "allowance",
                "billable",
                "amount",
                "currency",
            ]
        )
        window = statement["window"]

        def text(value):
            return f"{value.normalize():f}" if value else "0"

        for item in statement["metrics"]:
            head = [self.name, window["start"].isoformat(), window["end"].isoformat()]
            metric = [item["metric"].code, item["name"], item["unit"]]
            for day, value in item["daily"]:
                writer.writerow([*head, day.isoformat(), *metric, text(value), "", "", "", ""])
            writer.writerow(
                [
                    *head,
                    "total",
                    *metric,
                    text(item["quantity"]),
                    text(item["allowance"]),
                    text(item["billable"]),
                    str(item["amount"]),
                    self.currency_id.name,
                ]
            )
        return out.getvalue()

    def _render_usage_statement_pdf(self, day=None):
        """(PDF bytes, file name) of the usage statement of the period containing ``day``."""
        self.ensure_one()
        window = self._get_statement_window(self._parse_statement_day(day))
        pdf, _type = (
            self.env["ir.actions.report"]
            .sudo()
            ._render_qweb_pdf(
                "rbm_metering.action_report_usage_statement",
                self.ids,
                data={"period": window["start"].isoformat()},
            )
        )
        return pdf, self._get_usage_statement_filename(window["start"])

    def _get_usage_statement_filename(self, start, extension="pdf"):
        self.ensure_one()
        name = _(
            "Usage statement %(contract)s %(start)s",
            contract=self.name,
            start=start.isoformat(),
        )
        return f"{name}.{extension}".replace("/", "-")

    # ------------------------------------------------------------
    # DEMO
    # ------------------------------------------------------------

    def _demo_generate_usage(self):
        """Demo data: a storage level (GB) per day from the contract start to
        today, growing past the allowance in the current period."""
        now = fields.Datetime.now()
        rng = random.Random(42)
        for contract in self:
            line = contract.line_ids.filtered("metric_id")[:1]
            if not line:
                continue
            events = []
            day = contract.date_start
            level = 35.0
            while day <= now.date():
                level = max(level + rng.uniform(-2.0, 4.5), 5.0)
                stamp = min(datetime.combine(day, time(12)), now - timedelta(minutes=10))
                events.append(
                    {
                        "idempotency_key": f"demo-{contract.id}-{day.isoformat()}",
                        "metric": line.metric_id.code,
                        "contract_id": contract.id,
                        "quantity": round(level, 1),
                        "timestamp": stamp.isoformat(),
                        "properties": {"bucket": "backups"},
                    }
                )
                day += timedelta(days=1)
            self.env["rbm.usage"]._ingest(contract.company_id, events, source="api")
        return True
