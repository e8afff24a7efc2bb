#!/usr/bin/env python3
"""Usage storage at scale: ingestion and rating with ``--preload`` events
already stored against an empty table, and the roll-up (+ purge) of one month
of stored events into daily totals.

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/usage_scale.py \\
        --preload 20000000 --json /tmp/usage_scale.json

1. Database ``--db`` (default ``rbm_bench_usagestore``, a throwaway database),
   its ``--contracts`` contracts as ``bench/usage.py`` makes them (same setup).
2. Empty: ``--events`` events through the HTTP API (the client of
   ``bench/usage.py``: bodies built before timing, ``--connections`` concurrent
   connections), then their rating (the billing run's aggregation and priced
   lines of every contract's due period, no invoice).
3. The table emptied, then ``--preload`` events inserted set-based in SQL
   (``generate_series``, chunks of 1,000,000): UUID idempotency keys, spread
   over the contracts and over the ``--months`` months before the measured one,
   invoiced on one posted invoice per month, with their indexes rebuilt after
   the load (as a table that grew over time would have them), ``VACUUM ANALYZE``.
4. Loaded: the same events through the API, the same rating.
5. Plans: ``EXPLAIN ANALYZE`` of the duplicate check (the INSERT of a batch of
   5,000, rolled back), of the rating's aggregation and of a statement of a
   preloaded month, printed.
6. Roll-up: the oldest preloaded month summed into daily totals and deleted
   (``rbm.usage.daily._rollup_usage``, batches of ``--rollup-batch``, a commit
   each), events/s; then the statement of a contract for that month is read
   again (from the daily totals) and compared with the one read before.

The last line is the summary, e.g.::

    usage scale: 20000000 stored, ingest 21000 -> 20000 events/s (ratio 0.95),
    rating 5.1 -> 5.3 s (ratio 0.96), roll-up 90000 events/s

``--json PATH`` writes the figures: ``ingest_events_per_s_empty``,
``ingest_events_per_s_loaded``, ``rating_s_empty``, ``rating_s_loaded``,
``rating_events``, ``rollup_events_per_s``, ``preloaded``.
"""

import argparse
import json
import os
import sys
import time
from datetime import date, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402 - what the benchmarks share (bench/common.py)
import usage  # noqa: E402 - the contracts, the server and the client of bench/usage.py


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="rbm_bench_usagestore", help="throwaway database")
    parser.add_argument(
        "--preload", type=int, default=20_000_000, help="events stored (20,000,000)"
    )
    parser.add_argument("--months", type=int, default=12, help="months of stored events (12)")
    parser.add_argument("--events", "-n", type=int, default=200_000, help="events sent (200,000)")
    parser.add_argument("--batch-size", type=int, default=5000, help="events per request (5,000)")
    parser.add_argument("--contracts", type=int, default=10000, help="contracts (10,000)")
    parser.add_argument("--connections", type=int, default=2, help="concurrent connections (2)")
    parser.add_argument("--workers", type=int, default=0, help="odoo-bin --workers (0)")
    parser.add_argument("--rollup-batch", type=int, default=50000, help="roll-up batch (50,000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    parser.add_argument("--json", default=None, help="write the figures as JSON to this path")
    parser.add_argument(
        "--rollup-only",
        action="store_true",
        help="only the roll-up, of the oldest stored month left (the database of a previous "
        "run); its figure is added to --json",
    )
    common.add_odoo_arguments(parser)
    return parser.parse_args()


def ingest(args, registry, contract_ids, metric_code, low, span):
    """Events/s of ``--events`` events sent through the API (a fresh key)."""
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        cr.execute("DELETE FROM rbm_api_key")
        _api_key, key = env["rbm.api.key"]._generate("bench", env.company)
        cr.commit()
    result = usage.ingest_over_http(args, key, contract_ids, metric_code, low, span)
    return args.events / result["seconds"], args.events + result["warmup_accepted"]


def rate(registry, contract_ids, today, expected, label):
    """Seconds of the rating of every contract's due period (no invoice)."""
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        cr.execute("ANALYZE rbm_usage")
        contracts = env["rbm.contract"].browse(contract_ids)
        t0, q0 = time.perf_counter(), cr.sql_log_count
        due = {contract: contract._get_due_periods(today) for contract in contracts}
        state = contracts._prepare_billing_state(due)
        lines = []
        for contract, periods in due.items():
            quantum = contract._get_quantum()
            lang = contract.partner_id.lang or env.lang
            for period in periods:
                lines += contract._prepare_extra_invoice_line_vals(period, state, quantum, lang)
        seconds = time.perf_counter() - t0
        rated = sum(item["count"] for item in state["usage_rated"])
        if rated != expected:
            raise SystemExit(f"bench: {label}: rated {rated} events, expected {expected}")
        print(
            f"rating ({label}): {rated} events of {len(contracts)} contracts into "
            f"{len(lines)} usage lines in {seconds:.2f}s, {cr.sql_log_count - q0} queries",
            flush=True,
        )
        cr.rollback()
    return seconds, rated


def month_starts(first, count):
    result, day = [], first
    for _index in range(count):
        result.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return result


def make_invoices(env, months):
    """One posted invoice per preloaded month (dated the 1st of the next
    month), with one line: the invoice line the month's events are billed on."""
    from odoo import Command

    _company, journal = common.ensure_accounting(env)
    partner = env["res.partner"].create({"name": "Bench usage stored events"})
    product = env["product.product"].search([("name", "=", "Bench cloud")], limit=1)
    lines = []
    for start in months:
        next_start = month_starts(start, 2)[1]
        move = env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "journal_id": journal.id,
                "invoice_date": next_start,
                "invoice_line_ids": [
                    Command.create({"product_id": product.id, "quantity": 1, "price_unit": 1.0})
                ],
            }
        )
        move.action_post()
        lines.append(move.invoice_line_ids.id)
    link_usage_lines(env)
    return lines


def link_usage_lines(env):
    """The bench invoice lines as the billing run writes usage lines: with
    the usage line of a contract (the purge reads the usage lines)."""
    env.flush_all()
    env.cr.execute(
        """
        UPDATE account_move_line l
           SET rbm_contract_line_id = (SELECT cl.id FROM rbm_contract_line cl
                                        WHERE cl.metric_id IS NOT NULL ORDER BY cl.id LIMIT 1)
          FROM account_move m, res_partner p
         WHERE m.id = l.move_id AND p.id = m.partner_id AND l.display_type = 'product'
           AND p.name = 'Bench usage stored events' AND l.rbm_contract_line_id IS NULL
        """
    )


def preload(cr, args, company_id, metric_id, contract_ids, months, line_ids):
    """``--preload`` invoiced events, set-based, indexes rebuilt after."""
    cr.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'rbm_usage'"
        " AND indexname != 'rbm_usage_pkey'"
    )
    indexes = cr.fetchall()
    cr.execute(
        "ALTER TABLE rbm_usage DROP CONSTRAINT IF EXISTS rbm_usage_idempotency_key_company_uniq"
    )
    for name, _definition in indexes:
        cr.execute(f'DROP INDEX IF EXISTS "{name}"')
    cr.commit()
    cr.execute("SET synchronous_commit = off")
    cr.execute("SET session_replication_role = replica")  # no FK triggers: the ids exist
    t0 = time.perf_counter()
    chunk = 1_000_000
    for offset in range(0, args.preload, chunk):
        count = min(chunk, args.preload - offset)
        cr.execute(
            """
            INSERT INTO rbm_usage (
                company_id, idempotency_key, contract_id, metric_id, quantity, timestamp,
                effective_timestamp, properties, state, source, invoice_line_id,
                create_uid, create_date, write_uid, write_date)
            SELECT %(company)s, md5('stored-' || g)::uuid::text,
                   (%(contracts)s::int[])[1 + (g * 7919) %% %(ncontracts)s], %(metric)s,
                   round((0.1 + random() * 0.4)::numeric, 3), ts, ts,
                   jsonb_build_object('region', (ARRAY['sp', 'rj', 'mg'])[1 + g %% 3]),
                   'invoiced', 'api', (%(lines)s::int[])[1 + (g / %(ncontracts)s) %% %(nmonths)s],
                   1, ts, 1, ts
              FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS g,
                   LATERAL (SELECT (%(starts)s::timestamp[])
                                       [1 + (g / %(ncontracts)s) %% %(nmonths)s]
                                   + make_interval(secs => random() * 27 * 86400) AS ts) AS t
            """,
            {
                "company": company_id,
                "contracts": contract_ids,
                "ncontracts": len(contract_ids),
                "metric": metric_id,
                "lines": line_ids,
                "nmonths": len(months),
                "starts": [datetime.combine(m, datetime.min.time()) for m in months],
                "low": offset,
                "high": offset + count - 1,
            },
        )
        cr.commit()
        done = offset + count
        print(
            f"preload: {done} events in {time.perf_counter() - t0:.0f}s "
            f"({done / (time.perf_counter() - t0):.0f}/s)",
            flush=True,
        )
    cr.execute("SET session_replication_role = origin")
    cr.execute("SET maintenance_work_mem = '1GB'")
    t1 = time.perf_counter()
    for name, definition in indexes:
        cr.execute(definition)
        if name == "rbm_usage_idempotency_key_company_uniq":
            cr.execute(
                "ALTER TABLE rbm_usage ADD CONSTRAINT rbm_usage_idempotency_key_company_uniq"
                " UNIQUE USING INDEX rbm_usage_idempotency_key_company_uniq"
            )
        cr.commit()
    print(f"preload: indexes rebuilt in {time.perf_counter() - t1:.0f}s", flush=True)
    cr.execute("SET maintenance_work_mem = '64MB'")
    cr.commit()
    import psycopg2

    cnx = psycopg2.connect(dbname=args.db)
    cnx.autocommit = True
    try:
        t2 = time.perf_counter()
        with cnx.cursor() as vacuum:
            vacuum.execute("VACUUM ANALYZE rbm_usage")
        print(f"preload: VACUUM ANALYZE in {time.perf_counter() - t2:.0f}s", flush=True)
    finally:
        cnx.close()


def explain(cr, label, query, params=None):
    cr.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query, params)
    plan = [row[0] for row in cr.fetchall()]
    print(f"plan ({label}):", flush=True)
    for line in plan[:25]:
        print("    " + line, flush=True)


def shift_start(env, contract_id, day):
    """The contract, started on ``day`` in this transaction (rolled back by the
    caller): its statements then reach the stored months."""
    env.cr.execute("UPDATE rbm_contract SET date_start = %s WHERE id = %s", [day, contract_id])
    env.invalidate_all()
    return env["rbm.contract"].browse(contract_id)


def plans(registry, contract_ids, metric_id, stored_month, low, high):
    """EXPLAIN ANALYZE of the duplicate check, rating and statement queries."""
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        company = env.company
        # the duplicate check: the ingestion INSERT of 5,000 events, half of
        # them keys already stored (rolled back)
        cr.execute(
            "SELECT array_agg(idempotency_key) FROM (SELECT idempotency_key FROM rbm_usage"
            " WHERE state = 'invoiced' LIMIT 2500) AS k"
        )
        keys = cr.fetchone()[0] + [f"explain-{i}" for i in range(2500)]
        n = len(keys)
        explain(
            cr,
            "ingestion INSERT of 5,000 events, 2,500 of them stored keys",
            """
            INSERT INTO rbm_usage (company_id, idempotency_key, contract_id, metric_id, quantity,
                                   timestamp, effective_timestamp, state, source)
            SELECT %s, x.k, %s, %s, 1, %s, %s, 'accepted', 'api'
              FROM unnest(%s::varchar[]) AS x(k)
             WHERE NOT EXISTS (SELECT 1 FROM rbm_usage_key_archive a
                                WHERE a.company_id = %s AND a.key_hash = md5(x.k)::uuid)
            ON CONFLICT (company_id, idempotency_key) DO NOTHING
            RETURNING idempotency_key
            """,
            [company.id, contract_ids[0], metric_id, low, low, keys, company.id],
        )
        cr.rollback()
        print(f"    ({n} keys)", flush=True)
        explain(
            cr,
            "rating aggregation, 500 contracts, first window (no lower bound)",
            """
            SELECT v.idx, COUNT(u.id), SUM(u.quantity)
              FROM unnest(%s::int[]) WITH ORDINALITY AS v(contract_id, idx)
              JOIN rbm_usage u
                ON u.contract_id = v.contract_id AND u.metric_id = %s
               AND u.state IN ('accepted') AND u.effective_timestamp < %s
             GROUP BY v.idx
            """,
            [contract_ids[:500], metric_id, high],
        )
        contract = shift_start(env, contract_ids[0], stored_month)
        t0 = time.perf_counter()
        statement = contract._get_usage_statement(stored_month)
        seconds = time.perf_counter() - t0
        print(
            f"statement of a stored month (raw events): {statement['metrics'][0]['count']} "
            f"events in {seconds * 1000:.0f} ms",
            flush=True,
        )
        cr.rollback()
    return statement


def rollup(registry, args, cutoff):
    """Events/s of the roll-up (+ purge) of the events invoiced up to ``cutoff``."""
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        cr.execute("SELECT COUNT(*), COALESCE(SUM(event_count), 0) FROM rbm_usage_daily")
        rows0, counted0 = cr.fetchone()
    total, t0 = 0, time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Daily = env["rbm.usage.daily"]
        while True:
            count = Daily._rollup_usage(env.company, cutoff, args.rollup_batch)
            cr.commit()
            total += count
            if count < args.rollup_batch:
                break
        seconds = time.perf_counter() - t0
        cr.execute("SELECT COUNT(*), SUM(event_count) FROM rbm_usage_daily")
        rows, counted = cr.fetchone()
        rows, counted = rows - rows0, counted - counted0
    print(
        f"roll-up: {total} events into {rows} daily totals ({counted} events counted) in "
        f"{seconds:.1f}s = {total / seconds:.0f} events/s",
        flush=True,
    )
    if counted != total:
        raise SystemExit("bench: the daily totals do not count the events deleted")
    return total / seconds if seconds else 0.0


def rollup_only(args):
    """The roll-up of the oldest full stored month left, in the database of a
    previous run (what is left of an older month is rolled up first, untimed)."""
    from dateutil.relativedelta import relativedelta

    import odoo
    from odoo import SUPERUSER_ID, api

    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        link_usage_lines(env)
        cr.execute(
            """
            SELECT m.invoice_date, COUNT(u.id)
              FROM account_move m
              JOIN res_partner p ON p.id = m.partner_id
              JOIN account_move_line l ON l.move_id = m.id AND l.display_type = 'product'
              JOIN rbm_usage u ON u.invoice_line_id = l.id
             WHERE p.name = 'Bench usage stored events'
             GROUP BY 1 ORDER BY 1
            """
        )
        stored = cr.fetchall()
        contract_ids = (
            env["rbm.contract"]
            .search([("partner_id.name", "=like", f"{usage.PARTNER_PREFIX}%")], order="id")
            .ids
        )
        cr.commit()
    print(f"stored events per invoice date: {stored}", flush=True)
    if len(stored) > 1 and stored[0][1] < stored[1][1]:
        print("roll-up of what is left of an older month (untimed):", flush=True)
        rollup(registry, args, stored[0][0])
        stored = stored[1:]
    invoice_date = stored[0][0]
    month = invoice_date - relativedelta(months=1)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        before = shift_start(env, contract_ids[0], month)._get_usage_statement(month)
        cr.rollback()
    rollup_rate = rollup(registry, args, invoice_date)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        t0 = time.perf_counter()
        after = shift_start(env, contract_ids[0], month)._get_usage_statement(month)
        seconds = time.perf_counter() - t0
        same = [m["quantity"] for m in after["metrics"]] == [
            m["quantity"] for m in before["metrics"]
        ] and after["metrics"][0]["daily"] == before["metrics"][0]["daily"]
        cr.rollback()
    print(
        f"statement of the rolled-up month {month}: {after['metrics'][0]['count']} events, "
        f"{seconds * 1000:.0f} ms, same figures as before: {same}",
        flush=True,
    )
    if not same:
        raise SystemExit("bench: the statement changed after the roll-up")
    figures = {}
    if args.json and os.path.exists(args.json):
        with open(args.json) as f:
            figures = json.load(f)
    figures["rollup_events_per_s"] = round(rollup_rate)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    print(f"usage scale: roll-up {rollup_rate:.0f} events/s", flush=True)


def run(args):
    from dateutil.relativedelta import relativedelta

    import odoo
    from odoo import SUPERUSER_ID, api, fields

    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        today = fields.Date.context_today(env["rbm.contract"])
        start = today.replace(day=1) - relativedelta(months=1)
        metric, contracts, created = usage.setup(env, args, start)
        cr.execute("TRUNCATE rbm_usage_daily, rbm_usage_key_archive")
        company_id, metric_id, metric_code = env.company.id, metric.id, metric.code
        contract_ids = contracts.ids
        cr.commit()
    low = datetime.combine(start, datetime.min.time())
    high = datetime.combine(today.replace(day=1), datetime.min.time())
    span = int((high - low).total_seconds())
    print(
        f"setup: {len(contract_ids)} contracts ({'created' if created else 'reused'}); "
        f"today {today}; code {usage.code_version()}",
        flush=True,
    )

    figures = {"preloaded": args.preload}
    rate_empty, expected = ingest(args, registry, contract_ids, metric_code, low, span)
    print(f"ingest (empty table): {rate_empty:.0f} events/s", flush=True)
    rating_empty, rated = rate(registry, contract_ids, today, expected, "empty table")

    months = month_starts(start - relativedelta(months=args.months), args.months)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        cr.execute("TRUNCATE rbm_usage")
        line_ids = make_invoices(env, months)
        cr.commit()
        preload(cr, args, company_id, metric_id, contract_ids, months, line_ids)

    rate_loaded, expected = ingest(args, registry, contract_ids, metric_code, low, span)
    print(f"ingest ({args.preload} stored): {rate_loaded:.0f} events/s", flush=True)
    rating_loaded, _rated = rate(registry, contract_ids, today, expected, f"{args.preload} stored")

    before = plans(registry, contract_ids, metric_id, months[0], low, high)
    # the oldest month: invoiced on the 1st of the month after it
    rollup_rate = rollup(registry, args, months[1])
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        contract = shift_start(env, contract_ids[0], months[0])
        t0 = time.perf_counter()
        after = contract._get_usage_statement(months[0])
        seconds = time.perf_counter() - t0
        same = [m["quantity"] for m in after["metrics"]] == [
            m["quantity"] for m in before["metrics"]
        ] and after["metrics"][0]["daily"] == before["metrics"][0]["daily"]
        print(
            f"statement of the rolled-up month (daily totals): {seconds * 1000:.0f} ms, "
            f"same figures as before: {same}",
            flush=True,
        )
        cr.rollback()
        if not same:
            raise SystemExit("bench: the statement changed after the roll-up")

    figures.update(
        ingest_events_per_s_empty=round(rate_empty),
        ingest_events_per_s_loaded=round(rate_loaded),
        rating_s_empty=round(rating_empty, 3),
        rating_s_loaded=round(rating_loaded, 3),
        rating_events=rated,
        rollup_events_per_s=round(rollup_rate),
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    print(
        f"usage scale: {args.preload} stored, ingest {rate_empty:.0f} -> {rate_loaded:.0f} "
        f"events/s (ratio {rate_loaded / rate_empty:.2f}), rating {rating_empty:.2f} -> "
        f"{rating_loaded:.2f} s (ratio {rating_empty / rating_loaded:.2f}), roll-up "
        f"{rollup_rate:.0f} events/s",
        flush=True,
    )


def main():
    args = parse_args()
    common.setup_odoo(args, "rbm_metering", http=True)
    if args.rollup_only:
        rollup_only(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
