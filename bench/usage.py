#!/usr/bin/env python3
"""Usage ingestion benchmark: RBM's set-based ingestion against plain Odoo ORM
``create`` of the same rows, and the rating of what was ingested.

Bootstraps Odoo itself (no ``odoo-bin shell`` needed)::

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/usage.py --db rbm_bench_usage

In ONE transaction, rolled back at the end (the database stays reusable), it
sets up C customers with one active monthly in-arrears contract each (a
recurring line and a usage line with a 100 GB allowance, periods starting on
the 1st, the contract started on the 1st of last month) and N usage events
dated last month, then times, interleaved batch by batch so that both sides
see the same machine load and table sizes:

* RBM: ``rbm.usage._ingest(company, events)`` — the method the HTTP API
  (``POST /rbm/api/v1/usage``) calls, with API-sized batches of 1,000 JSON
  events: validation of every event (metric, contract, dates, closed period,
  numbers), then one ``INSERT ... ON CONFLICT DO NOTHING`` per batch;
* plain Odoo: ``env["rbm.usage"].create(vals_list)`` of the same rows (ready
  values, no validation), batched the same way, flushed.

Every batch starts with an empty ORM cache, as a request would. Queries are
counted with the cursor's ``sql_log_count``. Then (untimed ANALYZE first) it
times the rating of last month for all contracts as the billing run does it:
``_prepare_billing_state`` (one SQL aggregation for the batch) and the
priced invoice line values of every usage line.

The HTTP layer is not measured here (JSON parsing and the request cycle add
to both sides alike); see bench/README.md. The last line is the summary, e.g.::

    usage: 100000 events, 41000 events/s, ratio 12.3 vs ORM create,
    3.1 queries per 1000 events, rating 0.9 s

If the database does not exist (or lacks rbm_metering) it is created/updated
with ``-i rbm_metering --without-demo=all``.
"""

import argparse
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", default="rbm_bench_usage", help="database (default: rbm_bench_usage)"
    )
    parser.add_argument(
        "--events", "-n", type=int, default=100000, help="events per side (default: 100,000)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=1000, help="events per API batch (default: 1,000)"
    )
    parser.add_argument(
        "--contracts", type=int, default=1000, help="contracts the events go to (default: 1,000)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed warm-up batches per side (default: 2)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    parser.add_argument(
        "--odoo-home",
        default=os.environ.get("ODOO_HOME", "/opt/odoo"),
        help="Odoo source tree holding odoo-bin (default: $ODOO_HOME or /opt/odoo)",
    )
    parser.add_argument(
        "--addons-path",
        default=None,
        help="full addons path (default: ODOO_HOME/addons,ODOO_HOME/odoo/addons,the repository)",
    )
    parser.add_argument("--log-level", default="warn", help="Odoo log level (default: warn)")
    return parser.parse_args()


# ----------------------------------------------------------------------------
# database bootstrap
# ----------------------------------------------------------------------------


def module_state(dbname, module):
    """(database exists, state of ``module`` or None)."""
    import psycopg2

    try:
        cnx = psycopg2.connect(dbname=dbname)
    except psycopg2.OperationalError as error:
        if "does not exist" in str(error):
            return False, None
        raise
    try:
        with cnx.cursor() as cr:
            cr.execute("SELECT to_regclass('ir_module_module')")
            if not cr.fetchone()[0]:
                return True, None
            cr.execute("SELECT state FROM ir_module_module WHERE name = %s", [module])
            row = cr.fetchone()
            return True, row and row[0]
    finally:
        cnx.close()


def run_odoo_bin(args, extra):
    cmd = [
        sys.executable,
        os.path.join(args.odoo_home, "odoo-bin"),
        f"--addons-path={args.addons_path}",
        "-d",
        args.db,
        "--stop-after-init",
        "--no-http",
        "--log-level=warn",
        *extra,
    ]
    print("bench: running", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def code_version():
    def git(*cmd):
        try:
            return subprocess.run(
                ["git", "-C", REPO, *cmd], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "rbm_metering")
    return f"{head}" + (f" + {len(dirty.splitlines())} changes in rbm_metering" if dirty else "")


class Meter:
    """Sums wall time and query count over several timed windows."""

    def __init__(self, cr):
        self.cr = cr
        self.seconds = 0.0
        self.queries = 0

    def __enter__(self):
        self._q0 = self.cr.sql_log_count
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._t0
        self.queries += self.cr.sql_log_count - self._q0


# ----------------------------------------------------------------------------
# the benchmark
# ----------------------------------------------------------------------------


def run(args):
    from dateutil.relativedelta import relativedelta

    import odoo
    from odoo import SUPERUSER_ID, api, fields
    from odoo.fields import Command

    registry = odoo.modules.registry.Registry(args.db)
    rng = random.Random(args.seed)
    n, size, warm = args.events, args.batch_size, args.warmup
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        quiet = env(
            context={"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True}
        )
        company = env.company
        today = fields.Date.context_today(env["rbm.contract"])
        start = today.replace(day=1) - relativedelta(months=1)
        t_setup = time.perf_counter()
        metric = quiet["rbm.metric"].create(
            {"code": "bench_storage_gb", "name": "Bench storage", "unit_label": "GB"}
        )
        product = quiet["product.product"].create(
            {"name": "Bench cloud", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = quiet["rbm.plan"].create(
            {
                "name": "Bench metered monthly",
                "billing_mode": "arrears",
                "alignment": "fixed_day",
                "billing_day": 1,
                "line_ids": [
                    Command.create({"product_id": product.id, "quantity": 1, "price_unit": 50}),
                    Command.create(
                        {
                            "product_id": product.id,
                            "name": "Storage",
                            "metric_id": metric.id,
                            "price_model": "allowance",
                            "allowance": 100.0,
                            "overage_price": 0.45,
                        }
                    ),
                ],
            }
        )
        partners = quiet["res.partner"].create(
            [{"name": f"Bench usage customer {i:05d}"} for i in range(args.contracts)]
        )
        contracts = quiet["rbm.contract"].create(
            [{"partner_id": p.id, "plan_id": plan.id, "date_start": start} for p in partners]
        )
        contracts.action_activate()
        env.flush_all()
        contract_ids = contracts.ids
        low = datetime.combine(start, datetime.min.time())
        span = int(
            (datetime.combine(today.replace(day=1), datetime.min.time()) - low).total_seconds()
        )

        def make_events(prefix, count):
            events = []
            for i in range(count):
                stamp = low + timedelta(seconds=rng.randrange(span))
                events.append(
                    {
                        "idempotency_key": f"{prefix}-{i:07d}",
                        "metric": metric.code,
                        "contract_id": rng.choice(contract_ids),
                        "quantity": round(rng.uniform(0.1, 0.5), 3),
                        "timestamp": stamp.isoformat(),
                        "properties": {"region": rng.choice(["sp", "rj", "mg"])},
                    }
                )
            return events

        def orm_vals(events):
            return [
                {
                    "company_id": company.id,
                    "idempotency_key": e["idempotency_key"],
                    "contract_id": e["contract_id"],
                    "metric_id": metric.id,
                    "quantity": e["quantity"],
                    "timestamp": datetime.fromisoformat(e["timestamp"]),
                    "effective_timestamp": datetime.fromisoformat(e["timestamp"]),
                    "properties": e["properties"],
                    "source": "api",
                }
                for e in events
            ]

        rbm_events = make_events("rbm", n + warm * size)
        orm_events = make_events("orm", n + warm * size)
        print(
            f"setup: {len(contracts)} contracts ({plan.name}, from {start}), "
            f"{2 * len(rbm_events)} events generated in {time.perf_counter() - t_setup:.1f}s; "
            f"today {today}; code {code_version()}",
            flush=True,
        )

        Usage = env["rbm.usage"].with_company(company).sudo()
        rbm_meter, orm_meter = Meter(cr), Meter(cr)
        accepted = 0
        batches = range(0, len(rbm_events), size)
        for index, offset in enumerate(batches):
            timed = index >= warm
            batch = rbm_events[offset : offset + size]
            env.invalidate_all()
            if timed:
                with rbm_meter:
                    results = Usage._ingest(company, batch, source="api")
            else:
                results = Usage._ingest(company, batch, source="api")
            accepted += sum(r["status"] == "accepted" for r in results)

            vals_list = orm_vals(orm_events[offset : offset + size])
            env.invalidate_all()
            if timed:
                with orm_meter:
                    Usage.create(vals_list)
                    env.flush_all()
            else:
                Usage.create(vals_list)
                env.flush_all()
        if accepted != len(rbm_events):
            raise SystemExit(f"bench: only {accepted} of {len(rbm_events)} events accepted")

        rbm_rate = n / rbm_meter.seconds
        orm_rate = n / orm_meter.seconds
        per_k = 1000 / n
        print(
            f"ingest RBM: {n} events in {rbm_meter.seconds:.2f}s = {rbm_rate:.0f} events/s, "
            f"{rbm_meter.queries * per_k:.1f} queries per 1000 events",
            flush=True,
        )
        print(
            f"ORM create: {n} events in {orm_meter.seconds:.2f}s = {orm_rate:.0f} events/s, "
            f"{orm_meter.queries * per_k:.1f} queries per 1000 events",
            flush=True,
        )

        # rating: only the RBM side's events count (the ORM rows are removed)
        cr.execute("DELETE FROM rbm_usage WHERE idempotency_key LIKE 'orm-%%'")
        cr.execute("ANALYZE rbm_usage")
        env.invalidate_all()
        t0, q0 = time.perf_counter(), cr.sql_log_count
        todo = contracts.with_context(rbm_billing_today=today, rbm_billing_until=None)
        state = todo._prepare_billing_state()
        lines = []
        rated = 0
        for contract in contracts:
            quantum = contract._get_quantum()
            lang = contract.partner_id.lang or env.lang
            for items in (state["usage"].get((contract.id, start)),):
                for item in items or ():
                    rated += item["count"]
                    lines.append(item["line"]._prepare_usage_invoice_line_vals(item, quantum, lang))
        rating_seconds = time.perf_counter() - t0
        rating_queries = cr.sql_log_count - q0
        if rated != len(rbm_events):
            raise SystemExit(f"bench: rated {rated} events, expected {len(rbm_events)}")
        print(
            f"rating: {rated} events of {len(contracts)} contracts into {len(lines)} invoice "
            f"lines in {rating_seconds:.2f}s, {rating_queries} queries",
            flush=True,
        )
        cr.rollback()
    print(
        f"usage: {n} events, {rbm_rate:.0f} events/s, ratio {rbm_rate / orm_rate:.1f} vs ORM "
        f"create, {rbm_meter.queries * per_k:.1f} queries per 1000 events, "
        f"rating {rating_seconds:.1f} s",
        flush=True,
    )


def main():
    args = parse_args()
    if args.events < 1 or args.batch_size < 1 or args.contracts < 1 or args.warmup < 0:
        raise SystemExit("bench: --events, --batch-size and --contracts must be positive")
    odoo_home = os.path.abspath(args.odoo_home)
    if not os.path.isfile(os.path.join(odoo_home, "odoo-bin")):
        raise SystemExit(f"bench: no odoo-bin in {odoo_home}; set ODOO_HOME or --odoo-home")
    args.odoo_home = odoo_home
    if not args.addons_path:
        args.addons_path = ",".join(
            [os.path.join(odoo_home, "addons"), os.path.join(odoo_home, "odoo", "addons"), REPO]
        )
    sys.path.insert(0, odoo_home)
    import odoo  # noqa: F401 - after sys.path

    exists, state = module_state(args.db, "rbm_metering")
    if not exists or state != "installed":
        run_odoo_bin(args, ["-i", "rbm_metering", "--without-demo=all"])
    odoo.tools.config.parse_config(
        [
            f"--addons-path={args.addons_path}",
            "-d",
            args.db,
            f"--log-level={args.log_level}",
            "--no-http",
        ]
    )
    run(args)


if __name__ == "__main__":
    main()
