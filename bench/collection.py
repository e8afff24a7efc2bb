#!/usr/bin/env python3
"""Collection run benchmark: the daily run of the régua de cobrança
(``rbm.collection.run``) over 50,000 open installments, against plain
Odoo doing the same work in the same run.

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/collection.py                   # 50,000
    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/collection.py --installments 5000

1. Database ``--db`` (default ``rbm_bench_collection``, a throwaway database):
   created with ``-i rbm_dunning --without-demo=all`` when missing. The
   installments are built ONCE and committed, then reused by later runs:
   ``--seeds`` (200) customers (email and mobile), each with a monthly contract
   (one 150.00 line, no taxes, paid by bank transfer) billed once with the
   ORM (``rbm.billing.run._bill``: real posted invoices, one payment-term
   installment each); then multiplied with set-based SQL (``INSERT … SELECT``
   over every column) into ``--installments`` customers, contracts (with their
   lines and MRR movement), invoices and journal items, with new ids, names
   and sequence numbers, the customer as follower of its invoice and
   contract. Every invariant of the copies holds as in the seeds: balanced
   moves, ``payment_term`` receivable line with ``date_maturity``,
   ``amount_residual`` = 150.00, not reconciled. The default collection policy
   is the standard régua: D-3 email, D+1 email, D+3 SMS, D+10 suspend the
   contract, D+30 cancel it.
2. Each scenario runs in ONE transaction that is rolled back at the end, so
   the database is reused. Untimed, it first moves the due dates (relative to
   today, so a database built on another day works too), writes the log rows
   of the earlier days' runs and the contract states they left, ANALYZEs the
   tables, and checks with SQL that the run sees exactly N open installments:

   * **typical day**: due dates spread evenly over 60 days (today - 44 to
     today + 15); the steps of the earlier days are logged, contracts more
     than 10 days late are suspended, more than 30 days late cancelled. Today
     one installment in twelve has a step due (N × 5 / 60: D-3 and D+1 emails,
     D+3 SMS, D+10 suspension, D+30 cancellation).
   * **worst case**: every installment is due yesterday (the D-3 email was
     sent): all N have the D+1 email due today.
3. RBM: ``env["rbm.collection.run"]._run_all(today, batch_size=500)``, the
   cron's calls one after the other minus the commits (each batch: late fees
   of paid installments, reactivations, ``_get_due_work``, ``_process_batch``:
   reserve the log rows, conditions, the action, the trace on the invoice's
   and the customer's chatter), followed by ``flush_all``.
4. Plain Odoo, the same work with Odoo's own tools: the accountant's list of
   open invoices (``account.move.search_read`` of the posted customer
   invoices not paid and due up to the horizon), then for each step of the
   day: ``move.message_post_with_source(template)`` (the mail composer with
   the same template: what "Send" on the invoice does), the same SMS template
   with ``_message_sms_with_template``, the contract's own ``action_suspend``
   button and ``_cancel`` (what the cancellation wizard calls).
   It is interleaved with RBM on the SAME records: before RBM processes a
   batch, every ``--plain-every``-th batch (default 5, i.e. a 20% sample) is
   done the plain way inside a savepoint that is rolled back, so both sides
   see the same rows, the same table sizes and the same machine load; the
   plain time (and queries) of the sample is extrapolated to all the steps.
   Those windows are excluded from RBM's figures.

Figures: installments/s over the open installments examined and over the
steps executed, queries per installment (the cursor's ``sql_log_count``),
the ratio = RBM throughput ÷ plain Odoo throughput for the same work (i.e.
plain seconds ÷ RBM seconds), and the time and queries of each part of the
run (``--profile`` adds the query breakdown by statement and call site). The
last line is the summary, e.g. (wrapped here)::

    collection: 50000 installments, typical day 4166 steps 114 installments/s
    (9.5 steps/s), ratio 0.97 vs plain Odoo, 1.6 queries/installment; worst
    case 4000 installments, 4000 steps 9 installments/s (9.5 steps/s), ratio
    1.22 vs plain Odoo, 24.1 queries/installment

See bench/README.md.
"""

import argparse
import collections
import json
import os
import sys
import threading
import time
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402 - what the benchmarks share (bench/common.py)

PREFIX = "Bench collection customer"
PARAM = "rbm_bench.collection_built"
POLICY = "Bench régua padrão"
STEPS = [(-3, "email"), (1, "email"), (3, "sms"), (10, "suspend"), (30, "cancel")]
SPREAD, FIRST_DUE = 60, -44  # typical day: due dates today - 44 … today + 15
HORIZON = 60  # rbm.collection.run._get_due_work looks 60 days ahead
PRICE = 150.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="rbm_bench_collection", help="throwaway database")
    parser.add_argument(
        "--installments", "-n", type=int, default=50000, help="open installments (50,000)"
    )
    parser.add_argument(
        "--worst-installments",
        type=int,
        default=None,
        help="installments of the worst case (default: --installments)",
    )
    parser.add_argument("--seeds", type=int, default=200, help="invoices made with the ORM (200)")
    parser.add_argument("--batch-size", type=int, default=500, help="run batch size (500)")
    parser.add_argument(
        "--plain-every",
        type=int,
        default=5,
        help="plain Odoo does every K-th batch (default 5: a 20%% sample)",
    )
    parser.add_argument(
        "--scenario",
        choices=["both", "typical", "worst"],
        default="both",
        help="typical day, worst case or both (default)",
    )
    parser.add_argument("--profile", action="store_true", help="query breakdown (slower)")
    parser.add_argument("--profile-top", type=int, default=20, help="lines per profile table")
    parser.add_argument(
        "--update", action="store_true", help="run odoo-bin -u rbm_dunning on the database first"
    )
    common.add_odoo_arguments(parser)
    return parser.parse_args()


def code_version():
    git = common.git
    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "rbm_dunning")
    return f"{head}" + (f" + {len(dirty.splitlines())} changes in rbm_dunning" if dirty else "")


# ----------------------------------------------------------------------------
# the installments: seeds with the ORM, copies with SQL (committed once)
# ----------------------------------------------------------------------------


def columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cr.fetchall()]


def copy_rows(cr, table, source, overrides, skip=("id",)):
    """INSERT INTO table SELECT every column of ``src`` (aliased in
    ``source``, a FROM clause) except ``overrides`` (column: SQL expression)."""
    cols = [c for c in columns(cr, table) if c not in overrides and c not in skip]
    names = ", ".join(f'"{c}"' for c in [*cols, *overrides])
    values = ", ".join([*(f'src."{c}"' for c in cols), *overrides.values()])
    cr.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {source}")  # noqa: S608
    return cr.rowcount


def make_seeds(env, args, today):
    """Customers, contracts and their first invoices, with the ORM."""
    from odoo.fields import Command

    quiet = env(context={"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True})
    product = quiet["product.product"].create(
        {
            "name": "Bench internet 300MB",
            "type": "service",
            "list_price": PRICE,
            "rbm_billing_type": "recurring",
            "taxes_id": [Command.clear()],
        }
    )
    plan = quiet["rbm.plan"].create(
        {
            "name": "Bench monthly",
            "line_ids": [Command.create({"product_id": product.id, "price_unit": PRICE})],
        }
    )
    Policy = quiet["rbm.collection.policy"]
    if Policy.search([("is_default", "=", True)]):
        raise SystemExit(f"bench: {args.db} already has a default collection policy")
    Policy.create(
        {
            "name": POLICY,
            "is_default": True,
            "date_start": "2020-01-01",
            "step_ids": [Command.create({"day_offset": d, "action": a}) for d, a in STEPS],
        }
    )
    start = today - timedelta(days=120)
    partners = quiet["res.partner"].create(
        [
            {
                "name": f"{PREFIX} {i:06d}",
                "email": f"customer{i}@example.com",
                "mobile": f"+55 11 9{i:04d}-{i:04d}",
                "street": "Rua das Acácias, 100",
                "city": "São Paulo",
            }
            for i in range(1, args.seeds + 1)
        ]
    )
    contracts = env["rbm.contract"].create(
        [
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "date_start": start,
                "payment_mode": "invoice",
            }
            for partner in partners
        ]
    )
    contracts.action_activate()
    result = env["rbm.billing.run"]._bill(contracts, start)
    if result["failed"] or len(result["moves"]) != args.seeds:
        raise SystemExit(f"bench: seed billing failed: {result['failed']}")
    moves = result["moves"]
    if set(moves.mapped("state")) != {"posted"}:
        raise SystemExit("bench: seed invoices not posted")
    terms = moves.line_ids.filtered(lambda line: line.display_type == "payment_term")
    if len(terms) != args.seeds:
        raise SystemExit("bench: each seed invoice must have one installment")
    env.flush_all()
    return moves.sorted("id").ids


def multiply(cr, seed_ids, first, last):
    """Copies n = first … last of the seeds (round robin), with SQL."""
    cr.execute(
        """
        CREATE TEMP TABLE bench_clone ON COMMIT DROP AS
        SELECT g.n, s.id AS seed_move, s.partner_id AS seed_partner,
               s.rbm_contract_id AS seed_contract, s.name AS seed_name,
               nextval('res_partner_id_seq') AS partner_id,
               nextval('rbm_contract_id_seq') AS contract_id,
               nextval('account_move_id_seq') AS move_id,
               s.sequence_prefix || lpad((s.top + g.n - %(first)s + 1)::text, 6, '0') AS name,
               s.top + g.n - %(first)s + 1 AS sequence_number
          FROM generate_series(%(first)s, %(last)s) g(n)
          JOIN (SELECT m.*, row_number() OVER (ORDER BY m.id) - 1 AS k,
                       (SELECT max(o.sequence_number) FROM account_move o
                         WHERE o.journal_id = m.journal_id
                           AND o.sequence_prefix = m.sequence_prefix) AS top
                  FROM account_move m WHERE m.id = ANY(%(seeds)s)) s
            ON s.k = (g.n - 1) %% %(count)s
        """,
        {"first": first, "last": last, "seeds": seed_ids, "count": len(seed_ids)},
    )
    name = f"'{PREFIX} ' || lpad(c.n::text, 6, '0')"
    copy_rows(
        cr,
        "res_partner",
        "bench_clone c JOIN res_partner src ON src.id = c.seed_partner",
        {
            "id": "c.partner_id",
            "name": name,
            "complete_name": name,
            "email": "'customer' || c.n || '@example.com'",
            "commercial_partner_id": "c.partner_id",
        },
    )
    copy_rows(
        cr,
        "rbm_contract",
        "bench_clone c JOIN rbm_contract src ON src.id = c.seed_contract",
        {"id": "c.contract_id", "partner_id": "c.partner_id", "name": "'BENCH/' || c.n"},
    )
    copy_rows(
        cr,
        "rbm_contract_line",
        "bench_clone c JOIN rbm_contract_line src ON src.contract_id = c.seed_contract",
        {"contract_id": "c.contract_id"},
    )
    copy_rows(
        cr,
        "rbm_mrr_event",
        "bench_clone c JOIN rbm_mrr_event src ON src.contract_id = c.seed_contract",
        {"contract_id": "c.contract_id"},
    )
    copy_rows(
        cr,
        "account_move",
        "bench_clone c JOIN account_move src ON src.id = c.seed_move",
        {
            "id": "c.move_id",
            "name": "c.name",
            "sequence_number": "c.sequence_number",
            "partner_id": "c.partner_id",
            "commercial_partner_id": "c.partner_id",
            "partner_shipping_id": "c.partner_id",
            "rbm_contract_id": "c.contract_id",
            "payment_reference": "c.name",
            "invoice_origin": "'BENCH/' || c.n",
            "access_token": "NULL",
        },
    )
    copy_rows(
        cr,
        "account_move_line",
        "bench_clone c JOIN account_move_line src ON src.move_id = c.seed_move",
        {
            "move_id": "c.move_id",
            "move_name": "c.name",
            "partner_id": "c.partner_id",
            "name": "CASE WHEN src.name = c.seed_name THEN c.name ELSE src.name END",
        },
    )
    # the customer follows its invoice and its contract (as after posting)
    for model, column in (("account.move", "move_id"), ("rbm.contract", "contract_id")):
        seed = "seed_move" if column == "move_id" else "seed_contract"
        cr.execute(
            f"""
            CREATE TEMP TABLE bench_follower ON COMMIT DROP AS
            SELECT f.id AS old_id, nextval('mail_followers_id_seq') AS new_id,
                   c.{column} AS res_id,
                   CASE WHEN f.partner_id = c.seed_partner THEN c.partner_id
                        ELSE f.partner_id END AS partner_id
              FROM bench_clone c
              JOIN mail_followers f ON f.res_model = %s AND f.res_id = c.{seed}
            """,  # noqa: S608
            [model],
        )
        cr.execute(
            "INSERT INTO mail_followers (id, res_model, res_id, partner_id)"
            " SELECT new_id, %s, res_id, partner_id FROM bench_follower",
            [model],
        )
        cr.execute(
            "INSERT INTO mail_followers_mail_message_subtype_rel"
            " (mail_followers_id, mail_message_subtype_id)"
            " SELECT b.new_id, r.mail_message_subtype_id FROM bench_follower b"
            " JOIN mail_followers_mail_message_subtype_rel r ON r.mail_followers_id = b.old_id"
        )
        cr.execute("DROP TABLE bench_follower")
    cr.execute("DROP TABLE bench_clone")


def build(registry, args, target):
    """Make sure ``target`` bench installments exist (committed)."""
    from odoo import SUPERUSER_ID, api, fields

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        common.ensure_accounting(env)
        ICP = env["ir.config_parameter"]
        built = json.loads(ICP.get_param(PARAM) or "{}")
        if built.get("installments", 0) >= target:
            return built
        t0 = time.perf_counter()
        if not built:
            today = fields.Date.context_today(env["rbm.contract"])
            built = {"seeds": make_seeds(env, args, today), "installments": args.seeds}
            ICP.set_param(PARAM, json.dumps(built))
            cr.commit()
            print(
                f"build: {args.seeds} seed invoices with the ORM in "
                f"{time.perf_counter() - t0:.1f}s",
                flush=True,
            )
        t1 = time.perf_counter()
        first = built["installments"] + 1
        if first <= target:
            multiply(cr, built["seeds"], first, target)
            built["installments"] = target
            ICP.set_param(PARAM, json.dumps(built))
        cr.commit()
        for table in ("res_partner", "rbm_contract", "account_move", "account_move_line"):
            cr.execute(f"ANALYZE {table}")
        cr.commit()
        print(
            f"build: copies {first}…{target} with SQL in {time.perf_counter() - t1:.1f}s",
            flush=True,
        )
    return built


# ----------------------------------------------------------------------------
# one scenario
# ----------------------------------------------------------------------------

INSTALLMENTS = f"""
    SELECT aml.id, aml.move_id, m.rbm_contract_id,
           row_number() OVER (ORDER BY aml.id) - 1 AS k
      FROM account_move_line aml
      JOIN account_move m ON m.id = aml.move_id
      JOIN res_partner p ON p.id = m.partner_id
     WHERE aml.display_type = 'payment_term' AND m.move_type = 'out_invoice'
       AND p.name LIKE '{PREFIX} %%'
"""


def prepare(env, scenario, today, n):
    """Due dates, earlier runs' log rows and contract states of the scenario
    (untimed); returns the (line, step) pairs the run must execute."""
    cr = env.cr
    cr.execute(f"CREATE TEMP TABLE bench_installment ON COMMIT DROP AS {INSTALLMENTS}")
    if scenario == "typical":
        due = f"%(today)s::date + {FIRST_DUE} + (i.k %% {SPREAD})::int"
    else:
        due = "%(today)s::date - 1"
    # the installments beyond n are moved past the run's horizon
    cr.execute(
        f"""
        UPDATE account_move_line aml
           SET date_maturity = CASE WHEN i.k < %(n)s THEN {due}
                                    ELSE %(today)s::date + 400 END
          FROM bench_installment i WHERE i.id = aml.id
        """,  # noqa: S608
        {"today": today, "n": n},
    )
    cr.execute(
        """
        UPDATE account_move m SET invoice_date_due = aml.date_maturity
          FROM account_move_line aml
         WHERE aml.move_id = m.id AND aml.id IN (SELECT id FROM bench_installment)
        """
    )
    # the invoices were sent when issued: each has its portal link (access
    # token); otherwise the first email of each invoice writes it, and for
    # account.move that write resyncs the invoice's lines and tracks it
    cr.execute(
        """
        UPDATE account_move SET access_token = gen_random_uuid()::text
         WHERE access_token IS NULL AND id IN (SELECT move_id FROM bench_installment)
        """
    )
    policy = env["rbm.collection.policy"].search([("name", "=", POLICY)])
    reason = env.ref("rbm_recurring.cancel_reason_non_payment")
    cr.execute(
        """
        UPDATE rbm_contract c SET state = 'active', suspended_since = NULL,
               rbm_suspended_by_collection = false, date_end = NULL, cancel_date = NULL,
               cancel_reason_id = NULL
          FROM bench_installment i WHERE i.rbm_contract_id = c.id
        """
    )
    if scenario == "typical":
        # what the earlier days' runs left: contracts suspended at D+10 and
        # cancelled at D+30
        cr.execute(
            """
            UPDATE rbm_contract c
               SET state = CASE WHEN aml.date_maturity + 30 < %(today)s THEN 'cancelled'
                                ELSE 'suspended' END,
                   suspended_since = aml.date_maturity + 10,
                   rbm_suspended_by_collection = aml.date_maturity + 30 >= %(today)s,
                   date_end = CASE WHEN aml.date_maturity + 30 < %(today)s
                                   THEN aml.date_maturity + 30 END,
                   cancel_date = CASE WHEN aml.date_maturity + 30 < %(today)s
                                      THEN aml.date_maturity + 30 END,
                   cancel_reason_id = CASE WHEN aml.date_maturity + 30 < %(today)s
                                           THEN %(reason)s END
              FROM bench_installment i JOIN account_move_line aml ON aml.id = i.id
             WHERE i.rbm_contract_id = c.id AND aml.date_maturity + 10 < %(today)s
            """,
            {"today": today, "reason": reason.id},
        )
    # the log rows of the earlier days' runs
    cr.execute(
        """
        INSERT INTO rbm_collection_log (step_id, policy_id, action, move_line_id, move_id,
               partner_id, contract_id, company_id, date, due_date, days_overdue,
               amount_residual, state, message, create_uid, create_date, write_uid, write_date)
        SELECT s.id, s.policy_id, s.action, aml.id, aml.move_id, m.commercial_partner_id,
               m.rbm_contract_id, m.company_id, aml.date_maturity + s.day_offset,
               aml.date_maturity, s.day_offset, aml.amount_residual, 'done',
               'Done by an earlier run (benchmark setup).', %(uid)s, now(), %(uid)s, now()
          FROM bench_installment i
          JOIN account_move_line aml ON aml.id = i.id
          JOIN account_move m ON m.id = aml.move_id
          JOIN rbm_collection_step s ON s.policy_id = %(policy)s AND s.active
         WHERE aml.date_maturity + s.day_offset < %(today)s
        """,
        {"today": today, "uid": env.uid, "policy": policy.id},
    )
    prelogged = cr.rowcount
    for table in (
        "account_move_line",
        "account_move",
        "rbm_contract",
        "rbm_collection_log",
        "res_partner",
    ):
        cr.execute(f"ANALYZE {table}")
    env.invalidate_all()
    # what the run will see: the open installments of its query, the steps due
    cr.execute(
        """
        SELECT count(*) FROM account_move_line aml JOIN account_move m ON m.id = aml.move_id
         WHERE m.move_type = 'out_invoice' AND m.state = 'posted'
           AND aml.display_type = 'payment_term' AND NOT aml.reconciled
           AND aml.amount_residual > 0 AND aml.date_maturity <= %s
        """,
        [today + timedelta(days=HORIZON)],
    )
    open_count = cr.fetchone()[0]
    if open_count != n:
        raise SystemExit(f"bench: the run would see {open_count} open installments, not {n}")
    work, _total = env["rbm.collection.run"]._get_due_work(today, limit=10 * n + 10)
    return work, prelogged


def plain_selection(env, today):
    """The accountant's list of open invoices in plain Odoo."""
    return env["account.move"].search_read(
        [
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("invoice_date_due", "<=", today + timedelta(days=HORIZON)),
        ],
        ["name", "partner_id", "invoice_date_due", "amount_residual"],
    )


def plain_steps(env, today, work, step_info):
    """The steps of ``work`` done with Odoo's own tools."""
    lines = env["account.move.line"].browse([line_id for line_id, _s in work])
    lines.fetch(["move_id"])
    for line_id, step_id in work:
        action, template, sms_template, reason = step_info[step_id]
        move = env["account.move.line"].browse(line_id).move_id
        if action == "email":
            move.message_post_with_source(
                template, message_type="comment", subtype_xmlid="mail.mt_comment"
            )
        elif action == "sms":
            move._message_sms_with_template(
                template=sms_template, partner_ids=move.partner_id.ids, put_in_queue=True
            )
        elif action == "suspend":
            move.rbm_contract_id.action_suspend()
        elif action == "cancel":
            move.rbm_contract_id._cancel(reason=reason, timing="now", today=today)
        else:
            raise SystemExit(f"bench: no plain Odoo action for {action}")
    env.flush_all()


PHASES = [
    ("rbm.late.fee", "_process_paid_installments"),
    ("account.move", "_rbm_collection_reactivate_settled"),
    ("rbm.collection.run", "_get_day_cursor"),
    ("rbm.collection.run", "_get_due_work"),
    ("rbm.collection.run", "_process_batch"),
    ("rbm.collection.run", "_prepare_log_vals"),
    ("rbm.collection.log", "_reserve"),
    ("rbm.collection.log", "_execute"),
    ("rbm.collection.log", "_post_trace"),
    ("rbm.collection.log", "_action_email"),
    ("rbm.collection.log", "_action_sms"),
    ("rbm.collection.log", "_action_suspend"),
    ("rbm.collection.log", "_action_cancel"),
]


def run_scenario(registry, args, scenario, n):
    from odoo import SUPERUSER_ID, api, fields

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Run = env["rbm.collection.run"]
        today = fields.Date.context_today(Run)
        t_prep = time.perf_counter()
        work, prelogged = prepare(env, scenario, today, n)
        steps = env["rbm.collection.step"].browse({s for _l, s in work})
        step_info = {
            step.id: (
                step.action,
                step.mail_template_id,
                step.sms_template_id,
                step.cancel_reason_id or env.ref("rbm_recurring.cancel_reason_non_payment"),
            )
            for step in steps
        }
        expected = collections.Counter(step_info[s][0] for _l, s in work)
        print(
            f"{scenario}: {n} open installments, {len(work)} steps due today "
            f"({', '.join(f'{a} {c}' for a, c in sorted(expected.items()))}), "
            f"{prelogged} log rows of earlier runs; prepared in "
            f"{time.perf_counter() - t_prep:.1f}s (untimed)",
            flush=True,
        )

        phases = common.Phases(cr)
        plain = common.Meter(cr)
        excluded = {"seconds": 0.0, "queries": 0}
        sampled = collections.Counter()
        batch_no = [0]
        batch_times = []
        profiler = common.QueryProfiler(REPO) if args.profile else None
        thread = threading.current_thread()
        if profiler:
            thread.query_hooks = (*getattr(thread, "query_hooks", ()), profiler.hook)

        saved = []
        for model, name in PHASES:
            cls = registry[model]
            if name not in dir(cls):
                continue
            saved.append((cls, name, cls.__dict__.get(name)))
            orig = getattr(cls, name)

            def wrapper(self, *a, _orig=orig, _name=name, **kw):
                if not phases.active:
                    return _orig(self, *a, **kw)
                if _name != "_process_batch":
                    return phases.timed(_name, _orig, self, *a, **kw)
                plain_window(a[1])
                t0 = time.perf_counter()
                try:
                    return phases.timed(_name, _orig, self, *a, **kw)
                finally:
                    batch_times.append((len(a[1]), time.perf_counter() - t0))

            setattr(cls, name, wrapper)

        def plain_window(batch):
            """Every K-th batch, the same steps the plain Odoo way, in a
            savepoint rolled back; excluded from RBM's time and queries."""
            batch_no[0] += 1
            if (batch_no[0] - 1) % args.plain_every:
                return
            t0, q0 = time.perf_counter(), cr.sql_log_count
            phases.active = False
            if profiler:
                profiler.active = False
            savepoint = cr.savepoint()
            with plain:
                plain_steps(env, today, batch, step_info)
            savepoint.close(rollback=True)
            env.invalidate_all()
            sampled.update(step_info[s][0] for _l, s in batch)
            phases.active = True
            if profiler:
                profiler.active = True
            excluded["seconds"] += time.perf_counter() - t0
            excluded["queries"] += cr.sql_log_count - q0

        try:
            # plain Odoo's selection, then RBM's run with the plain batches inside
            env.invalidate_all()
            with plain:
                listed = plain_selection(env, today)
            if len(listed) != n:
                raise SystemExit(f"bench: plain Odoo lists {len(listed)} open invoices, not {n}")
            selection = (plain.seconds, plain.queries)
            env.invalidate_all()
            phases.active = True
            if profiler:
                profiler.active = True
            t0, q0 = time.perf_counter(), cr.sql_log_count
            done = Run._run_all(today, batch_size=args.batch_size)
            env.flush_all()
            wall = time.perf_counter() - t0
            queries = cr.sql_log_count - q0
        finally:
            phases.active = False
            if profiler:
                profiler.active = False
                thread.query_hooks = tuple(h for h in thread.query_hooks if h != profiler.hook)
            for cls, name, attr in saved:
                if attr is None:
                    delattr(cls, name)
                else:
                    setattr(cls, name, attr)
        rbm_seconds = wall - excluded["seconds"]
        rbm_queries = queries - excluded["queries"]

        # checks: every due step ran, once, successfully
        cr.execute(
            "SELECT action, state, count(*) FROM rbm_collection_log WHERE date = %s"
            " AND message IS DISTINCT FROM 'Done by an earlier run (benchmark setup).'"
            " GROUP BY action, state",
            [today],
        )
        logged = {(a, s): c for a, s, c in cr.fetchall()}
        done_steps = collections.Counter({a: c for (a, s), c in logged.items() if s == "done"})
        if done_steps != expected or done != len({line for line, _s in work}):
            cr.execute(
                "SELECT action, message FROM rbm_collection_log WHERE date = %s"
                " AND state != 'done' LIMIT 5",
                [today],
            )
            raise SystemExit(
                f"bench: {scenario}: logged {logged}, expected {dict(expected)} done; "
                f"run returned {done}; e.g. {cr.fetchall()}"
            )
        cr.execute(
            "SELECT count(*) FROM mail_message WHERE model = 'account.move'"
            " AND message_type = 'comment' AND date >= now() - interval '1 day'"
            " AND res_id IN (SELECT move_id FROM rbm_collection_log WHERE date = %s)",
            [today],
        )
        emails = cr.fetchone()[0]
        cr.rollback()

    steps_total = len(work)
    sampled_total = sum(sampled.values())
    plain_steps_seconds = plain.seconds - selection[0]
    plain_steps_queries = plain.queries - selection[1]
    scale = steps_total / sampled_total if sampled_total else 0.0
    plain_seconds = selection[0] + plain_steps_seconds * scale
    plain_queries = selection[1] + plain_steps_queries * scale
    result = {
        "scenario": scenario,
        "installments": n,
        "steps": steps_total,
        "actions": dict(expected),
        "emails": emails,
        "rbm_seconds": rbm_seconds,
        "rbm_queries": rbm_queries,
        "plain_seconds": plain_seconds,
        "plain_queries": plain_queries,
        "plain_sampled": sampled_total,
        "plain_selection": selection,
        "ratio": plain_seconds / rbm_seconds,
        "phases": {k: (phases.seconds[k], phases.queries[k]) for k in phases.seconds},
        "batches": batch_times,
    }
    print(
        f"{scenario}: RBM {n} installments, {steps_total} steps in {rbm_seconds:.1f}s = "
        f"{n / rbm_seconds:.0f} installments/s, {steps_total / rbm_seconds:.1f} steps/s; "
        f"{rbm_queries} queries = {rbm_queries / n:.2f} per installment, "
        f"{rbm_queries / max(steps_total, 1):.1f} per step ({emails} emails on the invoices)",
        flush=True,
    )
    print(
        f"{scenario}: plain Odoo: open-invoice list {selection[0]:.2f}s / {selection[1]} "
        f"queries; {sampled_total} of the {steps_total} steps done in "
        f"{plain_steps_seconds:.1f}s / {plain_steps_queries} queries "
        f"({1000 * plain_steps_seconds / max(sampled_total, 1):.1f} ms, "
        f"{plain_steps_queries / max(sampled_total, 1):.1f} queries per step) → "
        f"{plain_seconds:.1f}s for all = {steps_total / plain_seconds:.1f} steps/s; "
        f"ratio {result['ratio']:.2f}",
        flush=True,
    )
    per = max(steps_total, 1)
    print(
        f"{scenario}: RBM split, s / ms per step / queries per step: "
        + "; ".join(
            f"{name} {sec:.1f}/{1000 * sec / per:.1f}/{qry / per:.2f}"
            for name, (sec, qry) in sorted(result["phases"].items(), key=lambda kv: -kv[1][0])
        ),
        flush=True,
    )
    print(
        f"{scenario}: {len(batch_times)} batches, ms per step in each: "
        + ", ".join(f"{1000 * sec / max(count, 1):.0f}" for count, sec in batch_times),
        flush=True,
    )
    if profiler:
        common.print_profile(f"RBM {scenario}", profiler, per, args.profile_top)
    return result


def run(args):
    import odoo

    registry = odoo.modules.registry.Registry(args.db)
    missing = common.missing_columns(registry)
    if missing:
        print(f"bench: the database lacks columns ({', '.join(missing[:5])}): updating")
        common.run_odoo_bin(args, ["-u", "rbm_dunning"])
        registry = odoo.modules.registry.Registry.new(args.db)
    worst_n = args.worst_installments or args.installments
    target = max(args.installments, worst_n, args.seeds)
    built = build(registry, args, target)
    print(
        f"setup: {built['installments']} bench installments in {args.db} "
        f"({len(built['seeds'])} seeds); code {code_version()}",
        flush=True,
    )
    results = {}
    if args.scenario in ("both", "typical"):
        results["typical"] = run_scenario(registry, args, "typical", args.installments)
    if args.scenario in ("both", "worst"):
        results["worst"] = run_scenario(registry, args, "worst", worst_n)
    parts = []
    for name, label in (("typical", "typical day"), ("worst", "worst case")):
        res = results.get(name)
        if not res:
            continue
        size = f"{res['installments']} installments, " if name == "worst" else ""
        parts.append(
            f"{label} {size}{res['steps']} steps "
            f"{res['installments'] / res['rbm_seconds']:.0f} "
            f"installments/s ({res['steps'] / res['rbm_seconds']:.1f} steps/s), ratio "
            f"{res['ratio']:.2f} vs plain Odoo, "
            f"{res['rbm_queries'] / res['installments']:.1f} queries/installment"
        )
    first = next(iter(results.values()))
    print(f"collection: {first['installments']} installments, " + "; ".join(parts), flush=True)


def main():
    args = parse_args()
    if min(args.installments, args.seeds, args.batch_size, args.plain_every) < 1:
        raise SystemExit("bench: sizes must be positive")
    common.setup_odoo(args, "rbm_dunning")
    run(args)


if __name__ == "__main__":
    main()
