#!/usr/bin/env python3
"""Billing throughput benchmark: the RBM billing run against plain Odoo.

Bootstraps Odoo itself (no ``odoo-bin shell`` needed)::

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/billing.py --db rbm_bench --contracts 2000

In ONE transaction, which is rolled back at the end (the database stays
reusable), it sets up N customers with one monthly in-advance contract each
(three recurring service lines, posting policy "post", all due today) and then
times:

* RBM: ``rbm.billing.run._cron_billing_run(batch_size=100)`` (after the
  ``_cron_lifecycle`` pass) called until no
  contract is due any more (the cron as it is: search, lock, prepare, create,
  advance, post);
* plain Odoo: for N other customers, the same 3-line invoices created with
  ``account.move.create(vals_list)`` in batches of the same size, then
  ``moves.action_post()``.

By default the two sides are interleaved (one RBM cron call, then one plain
Odoo batch, ...) so that both see the same machine load and table sizes; the
ratio is then meaningful even on a busy machine. Both sides are warmed up
first (``--warmup`` contracts/invoices), flush inside the timed sections, and
start every batch with an empty ORM cache, as a cron batch in its own
transaction would. Between batches (untimed) the tables written to are
ANALYZEd, since autoanalyze never sees the rows of an uncommitted transaction.
Queries are counted with the cursor's ``sql_log_count``. The RBM time is split
over the steps of the run (``_run_lifecycle``, ``_lock``, ``_apply_scheduled_changes``,
``_prepare_batch``, ``_create_invoices``, ``_post_invoices`` of ``rbm.billing.run``) by wrapping
them on this process's registry classes. ``--profile`` adds a breakdown of the
queries by statement and by call site (timings are then inflated by the
tracing).

The last line printed is the one-line summary, e.g. (wrapped here)::

    billing: 2000 contracts, 28.0 invoices/s, ratio 0.97 vs plain Odoo,
    24.0 queries per invoice (plain Odoo 23.9)

If the database does not exist it is created with ``-i rbm_recurring
--without-demo=all`` (a subprocess running odoo-bin); when the addon gained
stored fields since, it is updated with ``-u rbm_recurring`` (``--update``
forces that). See bench/README.md.
"""

import argparse
import math
import os
import threading
import time

import common
from common import (
    REPO,
    Meter,
    Phases,
    QueryProfiler,
    add_odoo_arguments,
    ensure_accounting,
    git,
    missing_columns,
    print_profile,
    run_odoo_bin,
    setup_odoo,
)

# the phase wrappers below are the benchmark's, not call sites of the profile
common.BENCH_LIBRARY.add(__file__)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="rbm_bench", help="database (default: rbm_bench)")
    parser.add_argument(
        "--contracts",
        "-n",
        type=int,
        default=2000,
        help="contracts / invoices per side (default: 2000)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=100,
        help="cron batch size and plain Odoo create batch (default: 100, the cron's default)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="untimed warm-up contracts / invoices per side (default: 20)",
    )
    parser.add_argument(
        "--order",
        choices=["interleaved", "rbm-first", "plain-first"],
        default="interleaved",
        help="interleaved (default): alternate one RBM cron call and one plain "
        "Odoo batch, so that both sides share the machine load; or time one "
        "whole side after the other",
    )
    parser.add_argument(
        "--analyze-every",
        type=int,
        default=1,
        help="ANALYZE the written tables (untimed) after every K batches (default: 1; "
        "0: never, to see the planner without statistics)",
    )
    parser.add_argument(
        "--no-taxes",
        action="store_true",
        help="products without taxes (default: the product default taxes, "
        "i.e. the company's sales tax, on both sides)",
    )
    parser.add_argument(
        "--keep-cache", action="store_true", help="do not empty the ORM cache between batches"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="break the queries down by statement and by call site (timings inflated)",
    )
    parser.add_argument(
        "--profile-top", type=int, default=25, help="lines per profile table (default: 25)"
    )
    parser.add_argument(
        "--update", action="store_true", help="run odoo-bin -u rbm_recurring on the database first"
    )
    add_odoo_arguments(parser)
    return parser.parse_args()


def code_version():
    """Commit of the repository, whether rbm_recurring has uncommitted changes,
    and a digest of the two billing files, to tell which code was measured."""
    import hashlib

    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "rbm_recurring")
    digest = hashlib.sha1()
    for name in ("rbm_contract.py", "rbm_contract_line.py", "rbm_billing_run.py"):
        with open(os.path.join(REPO, "rbm_recurring", "models", name), "rb") as f:
            digest.update(f.read())
    changes = f" + {len(dirty.splitlines())} uncommitted changes in rbm_recurring" if dirty else ""
    return f"{head}{changes} (billing files {digest.hexdigest()[:8]})"


RBM_PHASES = (
    "_run_lifecycle",
    "_lock",
    "_apply_scheduled_changes",
    "_prepare_batch",
    "_create_invoices",
    "_post_invoices",
)


def patch_rbm_phases(registry, phases):
    """Wrap the billing steps of rbm.billing.run (on this process's registry
    class only, nothing is written anywhere) to time them; returns an undo function."""
    cls = registry["rbm.billing.run"]
    saved = {name: cls.__dict__[name] for name in RBM_PHASES if name in cls.__dict__}

    def wrap(name, orig):
        def wrapper(self, *args, **kwargs):
            if not phases.active:
                return orig(self, *args, **kwargs)
            return phases.timed(name, orig, self, *args, **kwargs)

        return wrapper

    names = [name for name in RBM_PHASES if hasattr(cls, name)]
    for name in names:
        setattr(cls, name, wrap(name, getattr(cls, name)))

    def undo():
        for name in names:
            if name in saved:
                setattr(cls, name, saved[name])
            else:
                delattr(cls, name)

    return undo


# ----------------------------------------------------------------------------
# the benchmark
# ----------------------------------------------------------------------------

PRODUCTS = [
    ("Bench Internet 300MB", 129.90),
    ("Bench Cloud Backup", 49.90),
    ("Bench Support Plus", 19.90),
]


def chunks(records, size):
    for i in range(0, len(records), size):
        yield records[i : i + size]


def run(args):
    from dateutil.relativedelta import relativedelta

    import odoo
    from odoo import SUPERUSER_ID, api, fields
    from odoo.fields import Command
    from odoo.tools.misc import format_date

    registry = odoo.modules.registry.Registry(args.db)
    missing = missing_columns(registry)
    if missing:
        print(f"bench: the database lacks columns ({', '.join(missing[:5])}): updating")
        run_odoo_bin(args, ["-u", "rbm_recurring"])
        registry = odoo.modules.registry.Registry.new(args.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        company_id, journal_id = (rec.id for rec in ensure_accounting(env))
        cr.commit()

    n, batch, warm = args.contracts, args.batch_size, args.warmup
    profiles = {}
    results = {}
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        company = env["res.company"].browse(company_id)
        journal = env["account.journal"].browse(journal_id)
        # untimed setup: no chatter on the fixtures
        quiet = env(
            context={"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True}
        )
        Contract = env["rbm.contract"]
        today = fields.Date.context_today(Contract)
        t_setup = time.perf_counter()

        # the run must bill only the benchmark's contracts
        due = Contract.search_count(env["rbm.billing.run"]._get_domain(today))
        if due:
            raise SystemExit(
                f"bench: {args.db} already has {due} contracts due today; "
                "use a dedicated database (the default rbm_bench is created for this)"
            )

        product_vals = []
        for name, price in PRODUCTS:
            vals = {
                "name": name,
                "type": "service",
                "list_price": price,
                "rbm_billing_type": "recurring",
                "sale_ok": True,
            }
            if args.no_taxes:
                vals["taxes_id"] = [Command.clear()]
            product_vals.append(vals)
        products = quiet["product.product"].create(product_vals)
        plan = quiet["rbm.plan"].create(
            {
                "name": "Bench monthly",
                "interval": 1,
                "interval_unit": "month",
                "billing_mode": "advance",
                "alignment": "anniversary",
                "posting_policy": "post",
                "line_ids": [Command.create({"product_id": p.id}) for p in products],
            }
        )
        rbm_partners = quiet["res.partner"].create(
            [{"name": f"Bench RBM customer {i:05d}"} for i in range(warm + n)]
        )
        plain_partners = quiet["res.partner"].create(
            [{"name": f"Bench plain customer {i:05d}"} for i in range(warm + n)]
        )
        contracts = quiet["rbm.contract"].create(
            [
                {"partner_id": partner.id, "plan_id": plan.id, "date_start": today}
                for partner in rbm_partners
            ]
        )
        warm_contracts, main_contracts = contracts[:warm], contracts[warm:]
        assert all(len(c.line_ids) == 3 for c in contracts), "contracts need 3 lines"
        env.flush_all()
        taxes = ", ".join(products[:1].taxes_id.mapped("name")) or "no taxes"
        print(
            f"setup: {len(products)} products (taxes: {taxes}), "
            f"plan {plan.name}, {len(contracts)} contracts and {len(plain_partners)} plain "
            f"customers in {time.perf_counter() - t_setup:.1f}s; journal {journal.code}, "
            f"chart {company.chart_template}, today {today}; code {code_version()}",
            flush=True,
        )

        # plain Odoo: the same invoices, built from data already in memory
        period_start = today
        line_specs = [(p.id, p.uom_id.id, p.display_name, p.lst_price) for p in products]

        def plain_vals(partner_id, origin, period_text):
            return {
                "move_type": "out_invoice",
                "partner_id": partner_id,
                "company_id": company.id,
                "currency_id": company.currency_id.id,
                "invoice_date": period_start,
                "invoice_origin": origin,
                "invoice_user_id": env.uid,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "display_type": "product",
                            "product_id": product_id,
                            "product_uom_id": uom_id,
                            "name": f"{name} — {period_text}",
                            "quantity": 1.0,
                            "price_unit": price,
                        }
                    )
                    for product_id, uom_id, name, price in line_specs
                ],
            }

        period_end = today + relativedelta(months=1, days=-1)
        period_text = f"{format_date(env, today)} to {format_date(env, period_end)}"
        plain_items = [(p.id, f"PLAIN/{i:05d}") for i, p in enumerate(plain_partners)]
        warm_plain, main_plain = plain_items[:warm], plain_items[warm:]

        def fresh_batch():
            if not args.keep_cache:
                env.invalidate_all()

        thread = threading.current_thread()

        def with_profile(name, meter_cm):
            prof = profiles.get(name)
            if prof is None:
                return meter_cm
            return _ProfiledWindow(thread, prof, meter_cm)

        # Each side is a generator: the first step warms it up (untimed), every
        # further step runs one timed batch; it ends by storing its results.

        # ---------------------------------------------------------------- RBM
        def rbm_side():
            Run = env["rbm.billing.run"]
            domain = Run._get_domain(today)
            # warm-up: only the warm-up contracts are active and due
            warm_contracts.with_env(quiet).action_activate()
            env.flush_all()
            for _i in range(warm + 1):
                fresh_batch()
                Run._cron_lifecycle()
                Run._cron_billing_run(batch_size=warm or 1)
                env.flush_all()
                if not Contract.search_count(domain):
                    break
            main_contracts.with_env(quiet).action_activate()
            env.flush_all()
            due = Contract.search_count(domain)
            assert due == n, f"{due} contracts due, expected {n}"
            yield
            meter = Meter(cr)
            calls = 0
            while True:
                fresh_batch()
                rbm_phases.active = True
                try:
                    with with_profile("rbm", meter):
                        if calls == 0:
                            Run._cron_lifecycle()  # the night's first cron
                        Run._cron_billing_run(batch_size=batch)
                        rbm_phases.timed("flush", env.flush_all)
                finally:
                    rbm_phases.active = False
                calls += 1
                if not Contract.search_count(domain):
                    break
                if calls > math.ceil(n / batch) + 5:
                    raise SystemExit("bench: the billing run does not finish")
                yield
            moves = env["account.move"].search([("rbm_contract_id", "in", main_contracts.ids)])
            results["rbm"] = (meter, moves, f"{calls} cron calls of batch_size={batch}")

        # ---------------------------------------------------------- plain Odoo
        def plain_side():
            Move = env["account.move"].with_context(default_move_type="out_invoice")
            if warm_plain:
                warm_moves = Move.create(
                    [plain_vals(pid, origin, period_text) for pid, origin in warm_plain]
                )
                warm_moves.action_post()
                env.flush_all()
            yield
            meter = Meter(cr)
            batches = 0
            created = []
            for chunk in chunks(main_plain, batch):
                fresh_batch()
                with with_profile("plain", meter):
                    vals_list = [plain_vals(pid, origin, period_text) for pid, origin in chunk]
                    moves = plain_phases.timed("create", Move.create, vals_list)
                    plain_phases.timed("action_post", moves.action_post)
                    plain_phases.timed("flush", env.flush_all)
                created.extend(moves.ids)
                batches += 1
                yield
            results["plain"] = (
                meter,
                env["account.move"].browse(created),
                (f"{batches} batches of create({batch}) + action_post()"),
            )

        rbm_phases, plain_phases = Phases(cr), Phases(cr)
        undo_patch = patch_rbm_phases(registry, rbm_phases)
        if args.profile:
            profiles["rbm"] = QueryProfiler(REPO)
            profiles["plain"] = QueryProfiler(REPO)

        analyzed = []

        def refresh_stats():
            """ANALYZE the tables this transaction wrote to (untimed). Everything
            happens in one uncommitted transaction, so autovacuum never sees the
            new rows and the planner would keep the statistics of nearly empty
            tables: some of Odoo's posting queries (the payment state one of
            account.move._compute_payment_state) then get nested-loop plans that
            grow quadratically and swamp the measurement. In production every
            cron batch commits and autoanalyze keeps the statistics current;
            ANALYZE does sample the rows inserted by its own transaction."""
            t = time.perf_counter()
            cr.execute(
                "SELECT relname FROM pg_stat_xact_user_tables"
                " WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname"
            )
            tables = [row[0] for row in cr.fetchall()]
            for table in tables:
                cr.execute(f'ANALYZE "{table}"')
            analyzed.append((len(tables), time.perf_counter() - t))

        def step_done(count=[0]):  # noqa: B006 - a counter
            count[0] += 1
            if args.analyze_every and count[0] % args.analyze_every == 0:
                refresh_stats()

        t_run = time.perf_counter()
        sides = [rbm_side(), plain_side()]
        if args.order == "plain-first":
            sides.reverse()
        if args.order == "interleaved":
            # one RBM cron call, one plain Odoo batch, and so on: both sides see
            # the same machine load and the same table sizes
            for side in sides:
                next(side)
            if args.analyze_every:
                refresh_stats()
            while sides:
                for side in list(sides):
                    if next(side, StopIteration) is StopIteration:
                        sides.remove(side)
                step_done()
        else:
            for side in sides:
                next(side)
                if args.analyze_every:
                    refresh_stats()
                for _step in side:
                    step_done()
        if analyzed:
            print(
                f"stats: ANALYZE of the {analyzed[-1][0]} written tables {len(analyzed)} times, "
                f"{sum(t for _n, t in analyzed):.1f}s in all (untimed)"
            )
        print(
            f"run: both sides ({args.order}) done in {time.perf_counter() - t_run:.1f}s "
            "with warm-up",
            flush=True,
        )

        # ------------------------------------------------------------ checks
        for name in ("rbm", "plain"):
            meter, moves, how = results[name]
            env.invalidate_all()
            posted = moves.filtered(lambda m: m.state == "posted")
            nlines = len(moves.line_ids)
            print(
                f"{name:5}: {len(moves)} invoices ({len(posted)} posted, "
                f"{nlines / max(len(moves), 1):.1f} journal items each, total "
                f"{sum(moves.mapped('amount_total')):.2f}) in {meter.seconds:.1f}s, "
                f"{how} (batch ms min/median/max {1000 * min(meter.durations):.0f}/"
                f"{1000 * meter.median:.0f}/{1000 * max(meter.durations):.0f}); "
                f"{len(moves) / meter.seconds:.1f} invoices/s, {meter.queries} "
                f"queries = {meter.queries / max(len(moves), 1):.1f} per invoice",
                flush=True,
            )
            if len(moves) != n or len(posted) != n:
                raise SystemExit(
                    f"bench: {name} made {len(moves)} invoices ({len(posted)} posted), expected {n}"
                )
        rbm_meter, rbm_moves, _ = results["rbm"]
        plain_meter, plain_moves, _ = results["plain"]
        rbm_total = sum(rbm_moves.mapped("amount_total"))
        if abs(rbm_total - sum(plain_moves.mapped("amount_total"))) > 0.005:
            print("WARNING: the two sides do not invoice the same amounts")
        cr.rollback()
        undo_patch()

    # where the time goes, per contract / invoice
    rbm_meter, plain_meter = results["rbm"][0], results["plain"][0]
    sec, qry = rbm_phases.seconds, rbm_phases.queries
    rbm_split = [
        ("lifecycle", sec["_run_lifecycle"], qry["_run_lifecycle"]),
        ("lock", sec["_lock"], qry["_lock"]),
        (
            "changes+prepare vals",
            sec["_apply_scheduled_changes"] + sec["_prepare_batch"],
            qry["_apply_scheduled_changes"] + qry["_prepare_batch"],
        ),
        (
            "create+advance",
            sec["_create_invoices"] - sec["_post_invoices"],
            qry["_create_invoices"] - qry["_post_invoices"],
        ),
        ("post", sec["_post_invoices"], qry["_post_invoices"]),
        ("flush", sec["flush"], qry["flush"]),
    ]
    rbm_split.append(
        (
            "rest of the cron",
            rbm_meter.seconds - sum(t for _n, t, _q in rbm_split),
            rbm_meter.queries - sum(q for _n, _t, q in rbm_split),
        )
    )
    sec, qry = plain_phases.seconds, plain_phases.queries
    plain_split = [(name, sec[name], qry[name]) for name in ("create", "action_post", "flush")]
    plain_split.append(
        (
            "vals",
            plain_meter.seconds - sum(t for _n, t, _q in plain_split),
            plain_meter.queries - sum(q for _n, _t, q in plain_split),
        )
    )
    for name, split in (("rbm", rbm_split), ("plain", plain_split)):
        print(
            f"{name:5} split, ms / queries per invoice: "
            + ", ".join(f"{label} {1000 * t / n:.1f}/{q / n:.2f}" for label, t, q in split)
        )

    for name, prof in profiles.items():
        print_profile(name, prof, n, args.profile_top)

    rbm_rate = n / rbm_meter.seconds
    plain_rate = n / plain_meter.seconds
    print(
        f"plain Odoo: {plain_rate:.1f} invoices/s; RBM per contract: "
        f"{1000 * rbm_meter.seconds / n:.1f} ms vs {1000 * plain_meter.seconds / n:.1f} ms"
        + (" (profiled: timings inflated)" if args.profile else "")
    )
    print(
        f"billing: {n} contracts, {rbm_rate:.1f} invoices/s, ratio "
        f"{rbm_rate / plain_rate:.2f} vs plain Odoo, {rbm_meter.queries / n:.1f} queries per "
        f"invoice (plain Odoo {plain_meter.queries / n:.1f})",
        flush=True,
    )


class _ProfiledWindow:
    """Context manager: a Meter window with the query profiler hooked in."""

    def __init__(self, thread, prof, meter):
        self.thread, self.prof, self.meter = thread, prof, meter

    def __enter__(self):
        hooks = getattr(self.thread, "query_hooks", ())
        self.thread.query_hooks = (*hooks, self.prof.hook)
        self.prof.active = True
        return self.meter.__enter__()

    def __exit__(self, *exc):
        result = self.meter.__exit__(*exc)
        self.prof.active = False
        self.thread.query_hooks = tuple(h for h in self.thread.query_hooks if h != self.prof.hook)
        return result


def main():
    args = parse_args()
    if args.contracts < 1 or args.batch_size < 1 or args.warmup < 0:
        raise SystemExit("bench: --contracts and --batch-size must be positive")
    setup_odoo(args)
    run(args)


if __name__ == "__main__":
    main()
