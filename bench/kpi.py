#!/usr/bin/env python3
"""Revenue KPI benchmark: ``rbm.kpi._get_kpis`` over 100,000 MRR movements.

Bootstraps Odoo like bench/billing.py (with the helpers of bench/common.py)::

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/kpi.py --db rbm_bench --events 100000

In ONE transaction, rolled back at the end (the database stays reusable), it
inserts with plain SQL ``--customers`` customers, ``--contracts`` contracts
and ``--events`` ``rbm.mrr.event`` rows spread over the 36 months before
``--date-to``: each contract starts with a ``new`` movement, then moves up
and down (expansion, contraction), is suspended and reactivated, or churns,
with consistent ``mrr_before``/``delta``/``mrr_after``. The tables are
ANALYZEd (autoanalyze never sees uncommitted rows), then it times, cold ORM
cache each time, the median of ``--repeat`` runs of:

* RBM: ``env["rbm.kpi"]._get_kpis(date_from, date_to)`` for the 12 months up
  to ``--date-to`` (every KPI: MRR, movements, churn rates, GRR/NRR, ARPA,
  LTV, the cohort matrix, realised revenue), split into SQL and engine time;
* ``rbm.mrr.event._reclassify_customer_events()`` over every row (what the
  upgrade to 18.0.1.1.0 runs once), then again (nothing to change);
* plain Odoo, the part of it that ``read_group`` can do: movements by month
  and type over the whole history (MRR at each month end as their running
  sum) with one ``_read_group``, plus one ``_read_group`` by customer per
  month end for the active customers — no churn of existing customers,
  retention or cohorts.

The last line is the summary, e.g.
``kpi: 100000 events, 0.84 s, ratio 0.31 vs read_group, 3 queries``.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402 - what the benchmarks share (bench/common.py)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="rbm_bench", help="database (default: rbm_bench)")
    parser.add_argument("--events", "-n", type=int, default=100_000, help="MRR movements")
    parser.add_argument("--contracts", type=int, default=0, help="default: events / 10")
    parser.add_argument("--customers", type=int, default=0, help="default: 80%% of contracts")
    parser.add_argument("--date-to", default="2026-10-31", help="end of the 12 months measured")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (median)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--update", action="store_true", help="odoo-bin -u rbm_recurring first")
    common.add_odoo_arguments(parser)
    return parser.parse_args()


def add_months(day, months):
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def generate_events(rng, contracts, n_events, first_day, last_day):
    """``(contract, date, type, reason, before, delta, after)`` rows, about
    ``n_events`` in all, each contract's history consistent."""
    span = (last_day - first_day).days
    # aim ~10% over, then cut: the last contracts keep whole histories or none
    per_contract = max(1, n_events * 11 // (10 * len(contracts)) + 1)
    rows = []
    for contract in contracts:
        day = first_day + timedelta(days=rng.randrange(span * 9 // 10))
        step = max(2, 2 * (last_day - day).days // per_contract)
        mrr = float(rng.choice((49.9, 99.9, 199.9, 499.0)))
        rows.append((contract, day, "new", "start", 0.0, mrr, mrr))
        for _ in range(per_contract - 1):
            day += timedelta(days=rng.randint(1, step))
            before = mrr
            if day > last_day:
                break
            if before == 0.0:
                mrr = float(rng.choice((49.9, 99.9, 199.9)))
                rows.append((contract, day, "reactivation", "reactivation", 0.0, mrr, mrr))
                continue
            roll = rng.random()
            if roll < 0.08:
                mrr, kind, reason = 0.0, "churn", rng.choice(("cancellation", "suspension"))
            elif roll < 0.6:
                mrr = round(before + rng.choice((10.0, 50.0, 100.0)), 2)
                kind, reason = "expansion", "upgrade"
            else:
                mrr = round(max(5.0, before - rng.choice((5.0, 10.0, 20.0))), 2)
                kind, reason = "contraction", "downgrade"
                if mrr == before:
                    continue
            rows.append((contract, day, kind, reason, before, round(mrr - before, 2), mrr))
    return rows[:n_events]


def setup(env, args, rng):
    """Customers, a plan, contracts and events, inserted with SQL."""
    cr = env.cr
    company = env.company
    n_contracts = args.contracts or max(1, args.events // 10)
    n_customers = args.customers or max(1, int(n_contracts * 0.8))
    plan = env["rbm.plan"].create({"name": "KPI bench plan"})
    users = env["res.users"].search([("share", "=", False)], limit=3).ids
    cr.execute(
        """
        INSERT INTO res_partner (name, active, is_company, type, autopost_bills, create_date)
        SELECT 'KPI bench customer ' || g, true, true, 'contact', 'ask', now()
          FROM generate_series(1, %s) g
        RETURNING id
        """,
        [n_customers],
    )
    partners = [row[0] for row in cr.fetchall()]
    cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", [partners])
    first_day = add_months(date.fromisoformat(args.date_to), -35)
    last_day = date.fromisoformat(args.date_to)
    values = [
        (
            f"BENCH/{i}",
            partners[i % n_customers],
            partners[i % n_customers],
            plan.id,
            company.id,
            company.currency_id.id,
            users[i % len(users)],
            "active",
            first_day,
        )
        for i in range(n_contracts)
    ]
    from psycopg2.extras import execute_values

    contracts = [
        row[0]
        for row in execute_values(
            cr._obj,
            """
            INSERT INTO rbm_contract (name, partner_id, commercial_partner_id, plan_id,
                                      company_id, currency_id, user_id, state, date_start)
            VALUES %s RETURNING id
            """,
            values,
            page_size=5000,
            fetch=True,
        )
    ]
    partner_of = {c: partners[i % n_customers] for i, c in enumerate(contracts)}
    user_of = {c: users[i % len(users)] for i, c in enumerate(contracts)}
    events = generate_events(rng, contracts, args.events, first_day, last_day)
    execute_values(
        cr._obj,
        """
        INSERT INTO rbm_mrr_event (contract_id, partner_id, plan_id, user_id, company_id,
                                   currency_id, date, event_type, contract_event_type, reason,
                                   mrr_before, delta, mrr_after, create_date)
        VALUES %s
        """,
        [
            (
                c,
                partner_of[c],
                plan.id,
                user_of[c],
                company.id,
                company.currency_id.id,
                day,
                kind,
                kind,
                reason,
                before,
                delta,
                after,
                "now()",
            )
            for c, day, kind, reason, before, delta, after in events
        ],
        page_size=5000,
    )
    for table in ("res_partner", "rbm_contract", "rbm_mrr_event"):
        cr.execute(f"ANALYZE {table}")  # noqa: S608 - fixed table names
    return len(events), len(contracts), len(partners)


def timed(env, func):
    env.invalidate_all()
    q0, t0 = env.cr.sql_log_count, time.perf_counter()
    result = func()
    return time.perf_counter() - t0, env.cr.sql_log_count - q0, result


def read_group_side(env, date_from, date_to):
    """What plain Odoo gets from read_group: movements per month and type,
    MRR per month end (running sum), active customers per month end."""
    Event = env["rbm.mrr.event"]
    groups = Event._read_group(
        [("date", "<=", date_to)], ["date:month", "event_type"], ["delta:sum"]
    )
    by_month = {}
    for month, kind, delta in groups:
        by_month.setdefault(month.date() if hasattr(month, "date") else month, {})[kind] = delta
    mrr, series = 0.0, {}
    for month in sorted(by_month):
        mrr += sum(by_month[month].values())
        series[month] = round(mrr, 2)
    customers = {}
    month = date_from
    while month <= date_to:
        end = add_months(month, 1) - timedelta(days=1)
        data = Event._read_group([("date", "<=", end)], ["partner_id"], ["delta:sum"])
        customers[month] = sum(1 for _p, total in data if total > 0.005)
        month = add_months(month, 1)
    return series, customers


def run(args):
    import odoo
    from odoo import SUPERUSER_ID, api

    from odoo.addons.rbm_recurring.engine import kpi as engine

    registry = odoo.modules.registry.Registry(args.db)
    if common.missing_columns(registry):
        common.run_odoo_bin(args, ["-u", "rbm_recurring"])
        registry = odoo.modules.registry.Registry.new(args.db)
    rng = random.Random(args.seed)
    date_to = date.fromisoformat(args.date_to)
    date_from = add_months(date_to, -11)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        try:
            t0 = time.perf_counter()
            n_events, n_contracts, n_customers = setup(env, args, rng)
            print(
                f"bench: setup {n_events} events, {n_contracts} contracts, {n_customers} "
                f"customers in {time.perf_counter() - t0:.1f} s (rolled back at the end)",
                flush=True,
            )
            Kpi = env["rbm.kpi"]
            # split of the RBM side: SQL (rows) vs engine
            sql_times, engine_times = [], []
            filters = Kpi._get_kpi_filters()
            for _ in range(args.repeat):
                env.invalidate_all()
                t0 = time.perf_counter()
                rows, first_new = Kpi._get_kpi_rows(date_from, date_to, filters)
                t1 = time.perf_counter()
                engine.compute_kpis(rows, date_from, date_to, first_new=first_new)
                sql_times.append(t1 - t0)
                engine_times.append(time.perf_counter() - t1)
            timed(env, lambda: Kpi._get_kpis(date_from, date_to))  # warm-up
            rbm = [
                timed(env, lambda: Kpi._get_kpis(date_from, date_to)) for _ in range(args.repeat)
            ]
            timed(env, lambda: read_group_side(env, date_from, date_to))
            plain = [
                timed(env, lambda: read_group_side(env, date_from, date_to))
                for _ in range(args.repeat)
            ]
            rbm_s = statistics.median(r[0] for r in rbm)
            plain_s = statistics.median(r[0] for r in plain)
            kpis = rbm[-1][2]
            series, customers = plain[-1][2]
            # both sides agree on what they both compute
            for month in kpis["months"]:
                assert abs(series[month["month"]] - month["mrr_end"]) < 0.05, month["month"]
                assert customers[month["month"]] == month["customers_end"], month["month"]
            print(
                f"bench: rows fetched {len(rows)} (opening rows + movements of the period), "
                f"cohorts {len(kpis['cohorts'])}, MRR {kpis['mrr']:.2f}, "
                f"customers {kpis['active_customers']}, NRR {kpis['nrr']:.3f}"
            )
            print(
                f"bench: RBM _get_kpis median {rbm_s:.3f} s "
                f"(min {min(r[0] for r in rbm):.3f}, max {max(r[0] for r in rbm):.3f}); "
                f"SQL {statistics.median(sql_times):.3f} s + engine "
                f"{statistics.median(engine_times):.3f} s; {rbm[-1][1]} queries"
            )
            print(
                f"bench: read_group side median {plain_s:.3f} s, {plain[-1][1]} queries "
                "(MRR, movements and active customers only)"
            )
            # the upgrade's recompute: rows generated per contract, typed by customer
            Event = env["rbm.mrr.event"]
            first_s, first_q, changed = timed(env, Event._reclassify_customer_events)
            again_s, _again_q, again = timed(env, Event._reclassify_customer_events)
            print(
                f"bench: movements typed by customer: {changed} rows changed in {first_s:.2f} s "
                f"({first_q} queries); run again: {again} changed in {again_s:.2f} s"
            )
            print(
                f"kpi: {n_events} events, {rbm_s:.2f} s, ratio {rbm_s / plain_s:.2f} vs "
                f"read_group, {rbm[-1][1]} queries"
            )
        finally:
            cr.rollback()


def main():
    args = parse_args()
    common.setup_odoo(args)
    run(args)


if __name__ == "__main__":
    main()
