from collections import defaultdict
from datetime import datetime, time, timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..engine import rating


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
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("rbm_metering.rbm_usage_action")
        action["domain"] = [("contract_id", "=", self.id)]
        action["context"] = {"default_contract_id": self.id}
        return action

    # ------------------------------------------------------------
    # USAGE PERIODS
    # ------------------------------------------------------------

    def _get_usage_open_from(self):
        """First day whose usage is not invoiced yet; ``False`` when no usage
        was invoiced. In arrears a period bills its own usage; in advance the
        invoice of a period bills the usage of the period before it."""
        self.ensure_one()
        start = self.next_period_start
        if not start or not self.period_anchor:
            return False
        if self.plan_id.billing_mode == "arrears":
            return start
        if start <= self.date_start:
            return False
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

    def _prepare_billing_batch(self, today, until=None):
        contracts = self.with_context(rbm_billing_today=today, rbm_billing_until=until)
        return super(RbmContract, contracts)._prepare_billing_batch(today, until)

    def _prepare_billing_state(self):
        state = super()._prepare_billing_state()
        today = self.env.context.get("rbm_billing_today")
        until = self.env.context.get("rbm_billing_until")
        ratings = []
        for contract in self:
            if today:
                due = contract._get_due_periods(today, until)
            else:
                period = contract._get_next_period()
                due = [period] if period else []
            low = None  # the first window also takes older events not invoiced yet
            for period in due:
                window = contract._get_usage_window(period)
                if not window:
                    continue
                high = datetime.combine(window["end"] + timedelta(days=1), time.min)
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
                            "start": datetime.combine(window["start"], time.min),
                        }
                    )
                low = high
        self._aggregate_usage(ratings)
        by_period = defaultdict(list)
        for item in ratings:
            by_period[item["contract"].id, item["period_start"]].append(item)
        state["usage"] = by_period
        state["usage_rated"] = []
        return state

    @api.model
    def _aggregate_usage(self, ratings):
        """Set ``quantity`` and ``count`` on each rating item: one SQL query for
        the SQL aggregations, one for the events of time-weighted metrics."""
        if not ratings:
            return
        self.env["rbm.usage"].flush_model()
        simple = [r for r in ratings if r["metric"].aggregation != "time_weighted_sum"]
        weighted = [r for r in ratings if r["metric"].aggregation == "time_weighted_sum"]
        if simple:
            values = SQL(", ").join(
                SQL(
                    "(%s, %s, %s, %s::timestamp, %s::timestamp, %s)",
                    index,
                    item["contract"].id,
                    item["metric"].id,
                    item["low"],
                    item["high"],
                    item["metric"].unique_property or "",
                )
                for index, item in enumerate(simple)
            )
            self.env.cr.execute(
                SQL(
                    """
                    SELECT v.idx, COUNT(u.id), SUM(u.quantity), MAX(u.quantity),
                           COUNT(DISTINCT u.properties ->> v.prop),
                           (ARRAY_AGG(u.quantity ORDER BY u.timestamp DESC, u.id DESC))[1]
                      FROM (VALUES %s) AS v(idx, contract_id, metric_id, low, high, prop)
                      JOIN rbm_usage u
                        ON u.contract_id = v.contract_id
                       AND u.metric_id = v.metric_id
                       AND u.state = 'accepted'
                       AND (v.low IS NULL OR u.effective_timestamp >= v.low)
                       AND u.effective_timestamp < v.high
                     GROUP BY v.idx
                    """,
                    values,
                )
            )
            column = {"sum": 2, "max": 3, "count": 1, "count_unique": 4, "last": 5}
            rows = {row[0]: row for row in self.env.cr.fetchall()}
            for index, item in enumerate(simple):
                row = rows.get(index)
                item["count"] = row[1] if row else 0
                value = row[column[item["metric"].aggregation]] if row else 0
                item["quantity"] = item["metric"]._round_quantity(rating.to_decimal(value or 0))
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
                              AND u.state IN ('rated', 'invoiced')
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
                    )
                    invoice_lines[key] = line.id
        values = [
            SQL(
                "(%s, %s, %s, %s::timestamp, %s::timestamp)",
                invoice_lines[key],
                item["contract"].id,
                item["metric"].id,
                item["low"],
                item["high"],
            )
            for item in rated
            if (key := (item["contract"].id, item["period_start"], item["line"].id))
            in invoice_lines
        ]
        if not values:
            return result
        self.env["rbm.usage"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                UPDATE rbm_usage u
                   SET state = 'invoiced', invoice_line_id = v.line_id,
                       write_uid = %s, write_date = now() AT TIME ZONE 'UTC'
                  FROM (VALUES %s) AS v(line_id, contract_id, metric_id, low, high)
                 WHERE u.contract_id = v.contract_id
                   AND u.metric_id = v.metric_id
                   AND u.state = 'accepted'
                   AND (v.low IS NULL OR u.effective_timestamp >= v.low)
                   AND u.effective_timestamp < v.high
                """,
                self.env.uid,
                SQL(", ").join(values),
            )
        )
        self.env["rbm.usage"].invalidate_model(["state", "invoice_line_id"])
        return result
