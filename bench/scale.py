#!/usr/bin/env python3
"""Scale benchmark: the billing run on queue_job workers against the single
cron, the cost growth of billing in a database holding 500,000 invoices, and
the projected hours to bill 1M contracts with N workers.

::

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/scale.py --contracts 2000

Databases (all named ``<prefix>*``, default prefix ``rbm_bench_scale``):

* ``<prefix>_base``: ``rbm_queue_job`` (with ``rbm_recurring``,
  ``rbm_metering``, ``rbm_dunning``, ``queue_job``) installed without demo;
* ``<prefix>_tpl``: the base plus the fixtures, committed: three recurring
  products, a monthly in-advance plan posting its invoices, ``--warmup``
  contracts already billed (real invoices, the source of the history below)
  and ``--contracts`` contracts due today;
* ``<prefix>_loaded``: the template plus ``--history`` posted invoices
  generated in SQL (see ``generate_history``);
* ``<prefix>_run*``: a fresh clone (``createdb -T``) for each measured mode,
  dropped after it.

Parts (``--parts``, default all):

``billing``
    the same contracts billed three ways, each on a fresh clone of the
    template: the single cron (the ``rbm_recurring`` billing cron, which is
    what runs without queue_job, called in this process, one committed
    transaction per batch until nothing is due), then queue_job with 1 and
    2 workers: an Odoo server subprocess in prefork mode (``--workers=N``,
    ``server_wide_modules = web,queue_job``, ``[queue_job] channels =
    root:N,root.rbm.billing:N``), the billing cron of ``rbm_queue_job``
    enqueuing from this process, timed from before the enqueue until no job
    is open (``queue_job`` polled). Queries of the jobs are the counts of
    Odoo's request log line of each ``/queue_job/runjob`` request (query
    count, time in queries, rest of the request) plus the enqueue's.
``growth``
    per-invoice billing time on a clone of the template against a clone of
    the loaded database, the single cron's batches of the two interleaved
    (one batch on each in turn, so both see the same machine load), with the
    statements whose time grew most.
``projection``
    hours to bill 1,000,000 contracts with N = 1, 2, 4, 8, 16 workers from
    the measured cost per invoice and its PostgreSQL share; usage rows from
    ``--usage-json`` when given.

Every mode asserts that every contract is billed exactly once. ``--json
PATH`` writes the figures. The last line is the summary, e.g.::

    scale: 2000 invoices, speedup 1.52 with 2 job workers (1 worker 0.98),
    31.2 queries/invoice, growth 0.94 at 500000 invoices
"""

import argparse
import collections
import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import common
from common import REPO, add_odoo_arguments, ensure_accounting, git, run_odoo_bin

common.BENCH_LIBRARY.add(__file__)

PRODUCTS = [("Bench plan fee", 129.90), ("Bench support", 49.90), ("Bench storage", 19.90)]
OPEN_STATES = ("wait_dependencies", "pending", "enqueued", "started")
RUNJOB_RE = re.compile(r'"GET /queue_job/runjob\?[^"]*" (\d{3}) \S+ (\d+) ([0-9.]+) ([0-9.]+)')
MARKER = "bench_scale.fixtures"
# odoo-bin -c CONF, without the long-polling (gevent) process of prefork mode:
# it serves the bus (websocket), no part of the jobs; where it cannot start
# (a gevent plugin missing in the interpreter) the master would respawn it
# in a loop, eating a core of the machine measured
SERVER_LAUNCHER = """
import sys
sys.path.insert(0, sys.argv[1])
import odoo
from odoo.service import server
server.PreforkServer.long_polling_spawn = lambda self: None
sys.argv = ["odoo-bin", "-c", sys.argv[2]]
odoo.cli.main()
"""
# contracts billed untimed by each mode first (warm-up of its processes)
WARM_PER_MODE = 4


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default="rbm_bench_scale", help="database name prefix")
    parser.add_argument("--contracts", "-n", type=int, default=2000, help="contracts due")
    parser.add_argument("--warmup", type=int, default=20, help="contracts billed in the template")
    parser.add_argument("--batch-size", type=int, default=100, help="cron batch / job chunk")
    parser.add_argument("--parts", default="billing,growth,projection")
    parser.add_argument("--workers", default="1,2", help="job worker counts to measure")
    parser.add_argument("--history", type=int, default=500000, help="invoices generated")
    parser.add_argument("--port", type=int, default=18180, help="HTTP port of the job server")
    parser.add_argument(
        "--pg-cores",
        type=int,
        default=8,
        help="cores of the PostgreSQL server assumed by the projection (default 8)",
    )
    parser.add_argument("--usage-json", help="usage figures (ingestion, rating, roll-up)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument(
        "--figures",
        help="a --json file of an earlier run: its billing and growth figures are used "
        "instead of measuring them again (e.g. to add the usage rows to the projection)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild template and loaded db")
    parser.add_argument(
        "--prepare", action="store_true", help="only build the template and loaded databases"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run databases")
    parser.add_argument("--top", type=int, default=8, help="statements listed by growth")
    add_odoo_arguments(parser)
    return parser.parse_args()


# ----------------------------------------------------------------------------
# databases
# ----------------------------------------------------------------------------


@contextlib.contextmanager
def psql_connect(dbname):
    """A connection of its own (autocommit), closed after."""
    import psycopg2

    cnx = psycopg2.connect(dbname=dbname)
    cnx.autocommit = True
    try:
        yield cnx
    finally:
        cnx.close()


def db_exists(dbname):
    with psql_connect("postgres") as cnx, cnx.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
        return bool(cr.fetchone())


def release(dbname):
    """Close this process's connections to ``dbname`` (a template must have
    none) and forget its registry."""
    import odoo
    from odoo.modules.registry import Registry

    Registry.delete(dbname)
    odoo.sql_db.close_db(dbname)


def drop_db(dbname):
    release(dbname)
    subprocess.run(["dropdb", "--if-exists", "--force", dbname], check=True)


def clone_db(template, dbname):
    release(template)
    drop_db(dbname)
    t0 = time.perf_counter()
    subprocess.run(["createdb", "-T", template, dbname], check=True)
    return time.perf_counter() - t0


def registry_env(dbname):
    """A committed-per-call helper: ``with env_of(db) as env``."""
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry

    class _Env:
        def __enter__(self):
            self.cr = Registry(dbname).cursor()
            return api.Environment(self.cr, SUPERUSER_ID, {"lang": "en_US"})

        def __exit__(self, exc_type, *exc):
            if exc_type is None:
                self.cr.commit()
            self.cr.close()

    return _Env()


def marker(dbname):
    with psql_connect(dbname) as cnx, cnx.cursor() as cr:
        cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", [MARKER])
        row = cr.fetchone()
        return row and row[0]


def ensure_base(args):
    base = f"{args.prefix}_base"
    exists, state = common.db_state(base, "rbm_queue_job")
    if not exists or state != "installed":
        saved, args.db = getattr(args, "db", None), base
        run_odoo_bin(args, ["-i", "rbm_queue_job", "--without-demo=all"])
        args.db = saved
    return base


def base_cron(env):
    """The billing cron of ``rbm_recurring`` (what runs without queue_job):
    ``rbm_queue_job`` overrides it to enqueue jobs, the single-cron mode calls
    the implementation below that override."""
    run = env["rbm.billing.run"]
    for cls in type(run).__mro__:
        if cls.__module__.startswith("odoo.addons.rbm_recurring.") and (
            "_cron_billing_run" in vars(cls)
        ):
            return lambda batch_size: vars(cls)["_cron_billing_run"](run, batch_size=batch_size)
    raise SystemExit("bench: no rbm_recurring billing cron found")


def ensure_template(args, base):
    """The fixtures, committed in ``<prefix>_tpl``: rebuilt when missing, with
    other sizes or ``--rebuild``."""
    from odoo import Command, fields

    tpl = f"{args.prefix}_tpl"
    want = f"contracts={args.contracts} warmup={args.warmup} warm2={WARM_PER_MODE}"
    if not args.rebuild and db_exists(tpl) and marker(tpl) == want:
        return tpl
    clone_db(base, tpl)
    t0 = time.perf_counter()
    with registry_env(tpl) as env:
        company, journal = ensure_accounting(env)
        quiet = env(
            context={"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True}
        )
        today = fields.Date.context_today(env["rbm.contract"])
        products = quiet["product.product"].create(
            [
                {
                    "name": name,
                    "type": "service",
                    "list_price": price,
                    "rbm_billing_type": "recurring",
                    "sale_ok": True,
                }
                for name, price in PRODUCTS
            ]
        )
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
        total = args.warmup + WARM_PER_MODE + args.contracts
        partners = quiet["res.partner"].create(
            [{"name": f"Bench scale customer {i:06d}"} for i in range(total)]
        )
        contracts = quiet["rbm.contract"].create(
            [{"partner_id": p.id, "plan_id": plan.id, "date_start": today} for p in partners]
        )
        warm, main = contracts[: args.warmup], contracts[args.warmup :]
        warm2, main = main[:WARM_PER_MODE], main[WARM_PER_MODE:]
        warm.action_activate()
        env.flush_all()
        cron = base_cron(env)
        while cron(args.batch_size)["moves"]:
            env.flush_all()
        (warm2 | main).action_activate()
        env["ir.config_parameter"].set_param(MARKER, want)
        env["ir.config_parameter"].set_param(f"{MARKER}.main", ",".join(map(str, main.ids)))
        env["ir.config_parameter"].set_param(f"{MARKER}.warm2", ",".join(map(str, warm2.ids)))
        warm_moves = env["account.move"].search_count([("rbm_contract_id", "in", warm.ids)])
        print(
            f"template: {tpl}: {len(products)} products, plan {plan.name}, {args.warmup} "
            f"contracts billed ({warm_moves} invoices), {len(main)} contracts due {today}; "
            f"journal {journal.code}, chart {company.chart_template}; "
            f"{time.perf_counter() - t0:.0f}s",
            flush=True,
        )
    with psql_connect(tpl) as cnx, cnx.cursor() as cr:
        cr.execute("VACUUM ANALYZE")
    return tpl


def main_contract_ids(dbname, which="main"):
    """Ids of the contracts timed (``main``) or of the warm-up ones of each
    mode (``warm2``)."""
    with psql_connect(dbname) as cnx, cnx.cursor() as cr:
        cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", [f"{MARKER}.{which}"])
        return [int(i) for i in cr.fetchone()[0].split(",")]


def warm_in_process(dbname):
    """Untimed warm-up of this process on ``dbname``: the warm-up contracts
    billed (registry loaded, caches and code paths warm), committed."""
    from odoo import fields

    ids = main_contract_ids(dbname, "warm2")
    with registry_env(dbname) as env:
        run = env["rbm.billing.run"]
        contracts = env["rbm.contract"].browse(ids)
        today = fields.Date.context_today(run)
        billed = run._bill(run._lock(contracts), today)["moves"]
    if len(billed) != len(ids):
        raise SystemExit(f"bench: warm-up billed {len(billed)} of {len(ids)} contracts")


def check_billed_once(dbname, ids, label):
    """Every contract of ``ids`` has exactly one posted invoice for today's
    period and is no longer due; returns the invoice count."""
    with psql_connect(dbname) as cnx, cnx.cursor() as cr:
        cr.execute(
            """
            SELECT c.id, count(m.id), count(m.id) FILTER (WHERE m.state = 'posted'),
                   bool_or(c.next_invoice_date <= c.date_start)
              FROM rbm_contract c
              LEFT JOIN account_move m
                ON m.rbm_contract_id = c.id AND m.move_type = 'out_invoice'
               AND m.rbm_period_start >= c.date_start
             WHERE c.id = ANY(%s)
             GROUP BY c.id
            """,
            [ids],
        )
        rows = cr.fetchall()
    bad = [row for row in rows if row[1] != 1 or row[2] != 1 or row[3]]
    if len(rows) != len(ids) or bad:
        raise SystemExit(
            f"bench: {label}: {len(bad)} contracts not billed exactly once, e.g. {bad[:5]}"
        )
    print(f"{label}: check passed, each of the {len(ids)} contracts billed exactly once")
    return len(rows)


# ----------------------------------------------------------------------------
# part 1: single cron and job workers
# ----------------------------------------------------------------------------


def run_cron(dbname, batch_size, label):
    """The single cron: batches in committed transactions until nothing is
    billed. Wall time, queries and time in queries (``QueryClock``), time
    in the posting step."""
    from odoo.modules.registry import Registry

    warm_in_process(dbname)
    load_before = os.getloadavg()[0]
    invoices = calls = 0
    # time in _post_invoices: from the invoice number taken there the
    # numbering of the journal stays locked until the transaction commits
    run_cls = Registry(dbname)["rbm.billing.run"]
    post_invoices = run_cls._post_invoices
    posting = [0.0]

    def timed_post(self, moves):
        t = time.perf_counter()
        try:
            return post_invoices(self, moves)
        finally:
            posting[0] += time.perf_counter() - t

    run_cls._post_invoices = timed_post
    try:
        with QueryClock() as clock:
            t0 = time.perf_counter()
            while True:
                with registry_env(dbname) as env:
                    billed = len(base_cron(env)(batch_size)["moves"])
                calls += 1
                if not billed:
                    break
                invoices += billed
            seconds = time.perf_counter() - t0
    finally:
        run_cls._post_invoices = post_invoices
    queries, query_time = clock.count, clock.time
    result = {
        "mode": "cron",
        "invoices": invoices,
        "seconds": seconds,
        "queries": queries,
        "pg_seconds": query_time,
        "python_seconds": seconds - query_time,
        "calls": calls,
        "load_before": load_before,
        "post_seconds": posting[0],
        "post_share": posting[0] / seconds,
    }
    report_mode(label, result, f"{calls} cron calls of batch_size={batch_size}")
    return result


def report_mode(label, r, how):
    r["load_after"] = os.getloadavg()[0]
    r["invoices_per_s"] = r["invoices"] / r["seconds"]
    r["queries_per_invoice"] = r["queries"] / max(r["invoices"], 1)
    r["ms_per_invoice"] = 1000 * r["seconds"] / max(r["invoices"], 1)
    busy = r["pg_seconds"] + r["python_seconds"]
    r["pg_share"] = r["pg_seconds"] / busy if busy else 0.0
    print(
        f"{label}: {r['invoices']} invoices in {r['seconds']:.1f}s ({how}): "
        f"{r['invoices_per_s']:.1f} invoices/s, {r['queries_per_invoice']:.1f} queries/invoice, "
        f"time in PostgreSQL {100 * r['pg_share']:.0f}% "
        f"({r['pg_seconds']:.1f}s queries, {r['python_seconds']:.1f}s rest); "
        f"machine load {r['load_before']:.1f} before, {r['load_after']:.1f} after"
        + (f"; posting {100 * r['post_share']:.0f}% of the time" if "post_share" in r else ""),
        flush=True,
    )


def server_config(args, dbname, workers, logfile, path):
    with open(path, "w") as f:
        f.write(
            "[options]\n"
            f"addons_path = {args.addons_path}\n"
            f"db_name = {dbname}\n"
            f"dbfilter = ^{dbname}$\n"
            "list_db = False\n"
            f"http_port = {args.port}\n"
            "http_interface = 127.0.0.1\n"
            f"gevent_port = {args.port + 1}\n"
            f"workers = {workers}\n"
            "max_cron_threads = 0\n"
            "server_wide_modules = web,queue_job\n"
            "limit_time_cpu = 3600\n"
            "limit_time_real = 3600\n"
            f"logfile = {logfile}\n"
            "log_level = warn\n"
            "log_handler = werkzeug:INFO,odoo.addons.queue_job.jobrunner:INFO\n"
            "\n[queue_job]\n"
            f"channels = root:{workers},root.rbm.billing:{workers}\n"
            "host = 127.0.0.1\n"
        )


def wait_ready(proc, logfile, dbname, timeout=180):
    """Until the HTTP workers answer and the runner listens on ``dbname``."""
    deadline = time.time() + timeout
    url = f"http://127.0.0.1:{ARGS.port}/web/health"
    http_ok = False
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: the job server exited ({proc.returncode}), see {logfile}")
        if not http_ok:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - local
                    http_ok = resp.status == 200
            except OSError:
                pass
        if http_ok and os.path.exists(logfile):
            with open(logfile, errors="replace") as f:
                if f"queue job runner ready for db {dbname}" in f.read():
                    return
        time.sleep(0.5)
    raise SystemExit(f"bench: the job server is not ready after {timeout}s, see {logfile}")


def wait_jobs(dbname, label, since=0, timeout=3600):
    """Poll ``queue_job`` until no job above id ``since`` is open; their
    states."""
    t0 = time.perf_counter()
    while True:
        with psql_connect(dbname) as cnx, cnx.cursor() as cr:
            cr.execute(
                "SELECT state, count(*) FROM queue_job WHERE id > %s GROUP BY state", [since]
            )
            states = dict(cr.fetchall())
        if not any(states.get(s) for s in OPEN_STATES):
            return states
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"bench: {label}: jobs still open after {timeout}s: {states}")
        time.sleep(0.2)


def warm_workers(dbname, workers):
    """Untimed warm-up of the server's workers: the warm-up contracts billed
    by ``workers`` jobs enqueued at once (one per worker, the channel's
    capacity being ``workers``); this process warmed for the enqueue too.
    The warm-up jobs are deleted after, so that only the timed run's jobs
    are counted."""
    from odoo import fields

    ids = main_contract_ids(dbname, "warm2")
    with registry_env(dbname) as env:
        run = env["rbm.billing.run"]
        contracts = env["rbm.contract"].browse(ids)
        chunks = env["rbm.job.run"]._split_chunks(contracts, math.ceil(len(ids) / workers))
        run._enqueue_bill_jobs(chunks, fields.Date.context_today(run))
    states = wait_jobs(dbname, "warm-up")
    if set(states) != {"done"}:
        raise SystemExit(f"bench: warm-up jobs not all done: {states}")
    with psql_connect(dbname) as cnx, cnx.cursor() as cr:
        cr.execute("SELECT count(*) FROM account_move WHERE rbm_contract_id = ANY(%s)", [ids])
        billed = cr.fetchone()[0]
        cr.execute("DELETE FROM queue_job")
    if billed != len(ids):
        raise SystemExit(f"bench: warm-up jobs billed {billed} of {len(ids)} contracts")


def run_jobs(args, dbname, workers, label, workdir):
    """queue_job with ``workers`` prefork workers in an Odoo server
    subprocess; the billing cron of rbm_queue_job enqueues from here."""
    logfile = os.path.join(workdir, f"jobs{workers}.log")
    conf = os.path.join(workdir, f"jobs{workers}.conf")
    server_config(args, dbname, workers, logfile, conf)
    release(dbname)
    cmd = [sys.executable, "-c", SERVER_LAUNCHER, args.odoo_home, conf]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_ready(proc, logfile, dbname)
        warm_workers(dbname, workers)
        log_offset = os.path.getsize(logfile)
        load_before = os.getloadavg()[0]
        with QueryClock() as clock:
            t0 = time.perf_counter()
            with registry_env(dbname) as env:
                info = env["rbm.billing.run"]._cron_billing_run(batch_size=args.batch_size)
            t_enqueued = time.perf_counter() - t0
        enqueue_queries, enqueue_time = clock.count, clock.time
        states = wait_jobs(dbname, label)
        seconds = time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if set(states) != {"done"}:
        raise SystemExit(f"bench: {label}: jobs not all done: {states}, see {logfile}")
    requests = queries = 0
    query_time = rest = 0.0
    with open(logfile, errors="replace") as f:
        f.seek(log_offset)
        for line in f:
            match = RUNJOB_RE.search(line)
            if match:
                requests += 1
                queries += int(match.group(2))
                query_time += float(match.group(3))
                rest += float(match.group(4))
    if requests < states["done"]:
        raise SystemExit(
            f"bench: {label}: {requests} runjob log lines for {states['done']} jobs, see {logfile}"
        )
    with psql_connect(dbname) as cnx, cnx.cursor() as cr:
        cr.execute(
            "SELECT count(*) FROM account_move WHERE rbm_contract_id = ANY(%s)"
            " AND move_type = 'out_invoice' AND state = 'posted'",
            [main_contract_ids(dbname)],
        )
        invoices = cr.fetchone()[0]
    result = {
        "mode": f"jobs{workers}",
        "workers": workers,
        "invoices": invoices,
        "seconds": seconds,
        "enqueue_seconds": t_enqueued,
        "jobs": states["done"],
        "queries": queries + enqueue_queries,
        "pg_seconds": query_time + enqueue_time,
        "python_seconds": rest + t_enqueued - enqueue_time,
        "load_before": load_before,
    }
    report_mode(
        label,
        result,
        f"{len(info['contracts'])} due, {info['enqueued']} jobs on root.rbm.billing, "
        f"enqueued in {t_enqueued:.1f}s",
    )
    return result


def part_billing(args, tpl, workdir):
    ids = main_contract_ids(tpl)
    run = f"{args.prefix}_run"
    results = {}
    for mode in ["cron"] + [f"jobs{w}" for w in args.worker_counts]:
        secs = clone_db(tpl, run)
        print(f"{mode}: fresh clone {run} of {tpl} in {secs:.1f}s", flush=True)
        if mode == "cron":
            label = "single cron"
            results[mode] = run_cron(run, args.batch_size, label)
        else:
            workers = int(mode[4:])
            label = f"jobs, {workers} worker{'s' if workers > 1 else ''}"
            results[mode] = run_jobs(args, run, workers, label, workdir)
        check_billed_once(run, ids, label)
        if results[mode]["invoices"] != len(ids):
            raise SystemExit(f"bench: {label}: {results[mode]['invoices']} invoices")
        if not args.keep:
            drop_db(run)
    cron = results["cron"]
    for mode, r in results.items():
        r["speedup"] = r["invoices_per_s"] / cron["invoices_per_s"]
        if mode != "cron":
            print(f"speedup {mode} / single cron: {r['speedup']:.2f}")
    return results


# ----------------------------------------------------------------------------
# part 2: cost growth
# ----------------------------------------------------------------------------


def columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cr.fetchall()]


def insert_clone(cr, table, overrides, source_sql, params):
    """INSERT INTO table SELECT with every column copied from ``s`` (the
    source row) except ``overrides`` {column: SQL expression}."""
    cols = columns(cr, table)
    unknown = set(overrides) - set(cols)
    if unknown:
        raise SystemExit(f"bench: {table} has no column {sorted(unknown)}")
    exprs = [overrides.get(col, f's."{col}"') for col in cols]
    cr.execute(
        f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)})'  # noqa: S608
        f" SELECT {', '.join(exprs)} {source_sql}",
        params,
    )
    return cr.rowcount


def generate_history(dbname, ids, history):
    """``history`` posted customer invoices, with their journal items and
    tax links, set-based: the first warm-up invoice of the template (a real
    invoice of the billing run: 3 product lines, a tax line, the receivable
    line) cloned for each of the due contracts, one per monthly period going
    back from 12 months before its start (so every period is in a past year),
    ``ceil(history / contracts)`` periods per contract. Each clone gets the
    contract's partner, its period (``rbm_contract_id``, ``rbm_period_start``/
    ``end``, invoice and accounting dates), a name unique in its journal and
    year (``INV/<year>/<number>``, sequence prefix and number set), and its
    product lines point to the contract's lines (``rbm_contract_line_id``) of
    the same product. Amounts are the source's; the invoices are unpaid."""
    per = math.ceil(history / len(ids))
    t0 = time.perf_counter()
    with psql_connect(dbname) as cnx, cnx.cursor() as cr:
        cnx.autocommit = False
        cr.execute(
            """
            SELECT m.id FROM account_move m
              JOIN rbm_contract c ON c.id = m.rbm_contract_id
             WHERE m.state = 'posted' AND m.move_type = 'out_invoice' AND NOT c.id = ANY(%s)
             ORDER BY m.id LIMIT 1
            """,
            [ids],
        )
        src = cr.fetchone()[0]
        cr.execute("SELECT count(*) FROM account_move_line WHERE move_id = %s", [src])
        nlines = cr.fetchone()[0]
        # the periods: (contract, k) for k = 12 .. 12 + per - 1 months back
        cr.execute(
            """
            CREATE TEMP TABLE bench_hist ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY c.id, k) AS rn, c.id AS contract_id,
                   c.partner_id, p.commercial_partner_id,
                   (c.date_start - make_interval(months => k))::date AS pstart,
                   (c.date_start - make_interval(months => k - 1) - interval '1 day')::date
                       AS pend
              FROM rbm_contract c JOIN res_partner p ON p.id = c.partner_id
             CROSS JOIN generate_series(12, 11 + %s) AS k
             WHERE c.id = ANY(%s)
             LIMIT %s
            """,
            [per, ids, history],
        )
        cr.execute(
            """
            ALTER TABLE bench_hist ADD COLUMN seq integer, ADD COLUMN move_id integer;
            UPDATE bench_hist h SET seq = s.seq
              FROM (SELECT rn, row_number() OVER (
                        PARTITION BY extract(year FROM pstart) ORDER BY pstart, contract_id
                    ) AS seq FROM bench_hist) s
             WHERE s.rn = h.rn;
            UPDATE bench_hist SET move_id = nextval('account_move_id_seq');
            CREATE INDEX ON bench_hist (rn);
            ANALYZE bench_hist;
            """
        )
        cr.execute("SELECT name, sequence_prefix FROM account_move WHERE id = %s", [src])
        src_name, src_prefix = cr.fetchone()
        journal_code = src_prefix.split("/")[0]
        prefix = f"'{journal_code}/' || extract(year FROM h.pstart) || '/'"
        name = f"{prefix} || lpad(h.seq::text, 6, '0')"
        moves = insert_clone(
            cr,
            "account_move",
            {
                "id": "h.move_id",
                "name": name,
                "payment_reference": name,
                "sequence_prefix": prefix,
                "sequence_number": "h.seq",
                "date": "h.pstart",
                "invoice_date": "h.pstart",
                "invoice_date_due": "h.pstart",
                "partner_id": "h.partner_id",
                "commercial_partner_id": "h.commercial_partner_id",
                "partner_shipping_id": "h.partner_id",
                "rbm_contract_id": "h.contract_id",
                "rbm_period_start": "h.pstart",
                "rbm_period_end": "h.pend",
                "access_token": "NULL",
                "create_date": "now() at time zone 'UTC'",
                "write_date": "now() at time zone 'UTC'",
            },
            "FROM bench_hist h CROSS JOIN account_move s WHERE s.id = %s",
            [src],
        )
        # journal items: each source line once per period, ids in a block
        cr.execute("SELECT nextval('account_move_line_id_seq')")
        first = cr.fetchone()[0]
        cr.execute(
            """
            CREATE TEMP TABLE bench_src_line ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY id) - 1 AS ord, id, product_id
              FROM account_move_line WHERE move_id = %s
            """,
            [src],
        )
        cr.execute("SELECT setval('account_move_line_id_seq', %s)", [first + history * nlines + 1])
        new_id = f"{first} + (h.rn - 1) * {nlines} + l.ord"
        line_overrides = {
            "id": new_id,
            "move_id": "h.move_id",
            "move_name": name,
            "date": "h.pstart",
            "invoice_date": "h.pstart",
            "date_maturity": "CASE WHEN s.date_maturity IS NULL THEN NULL ELSE h.pstart END",
            "partner_id": "h.partner_id",
            "rbm_contract_line_id": "cl.id",
            "reconciled": "false",
            "create_date": "now() at time zone 'UTC'",
            "write_date": "now() at time zone 'UTC'",
        }
        lines = insert_clone(
            cr,
            "account_move_line",
            line_overrides,
            """FROM bench_hist h
               CROSS JOIN bench_src_line l
               JOIN account_move_line s ON s.id = l.id
               LEFT JOIN rbm_contract_line cl
                 ON cl.contract_id = h.contract_id AND cl.product_id = l.product_id
                AND s.rbm_contract_line_id IS NOT NULL""",
            [],
        )
        # many2many links of the journal items (taxes, tax tags)
        links = 0
        for rel, col in (
            ("account_move_line_account_tax_rel", "account_move_line_id"),
            ("account_account_tag_account_move_line_rel", "account_move_line_id"),
        ):
            other = [c for c in columns(cr, rel) if c != col][0]
            cr.execute(
                f'INSERT INTO "{rel}" ("{col}", "{other}")'  # noqa: S608
                f' SELECT {new_id}, r."{other}" FROM bench_hist h CROSS JOIN bench_src_line l'
                f' JOIN "{rel}" r ON r."{col}" = l.id'
            )
            links += cr.rowcount
        cnx.commit()
        cnx.autocommit = True
        t_insert = time.perf_counter() - t0
        cr.execute("ANALYZE")
        cr.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cr.fetchone()[0]
    print(
        f"history: {moves} posted invoices ({per} monthly periods back from 12 months before "
        f"the start of each of the {len(ids)} contracts, cloned from {src_name}), {lines} "
        f"journal items, {links} tax/tag links in {t_insert:.0f}s, ANALYZE "
        f"{time.perf_counter() - t0 - t_insert:.0f}s; database {size}",
        flush=True,
    )
    return {"invoices": moves, "lines": lines, "links": links, "seconds": t_insert}


def ensure_loaded(args, tpl):
    loaded = f"{args.prefix}_loaded"
    want = f"{marker(tpl)} history={args.history}"
    if not args.rebuild and db_exists(loaded) and marker(loaded) == want:
        print(f"history: reusing {loaded} ({want})")
        return loaded, None
    clone_db(tpl, loaded)
    info = generate_history(loaded, main_contract_ids(loaded), args.history)
    with psql_connect(loaded) as cnx, cnx.cursor() as cr:
        cr.execute("UPDATE ir_config_parameter SET value = %s WHERE key = %s", [want, MARKER])
    return loaded, info


class QueryClock:
    """Query hook of this thread (``odoo.sql_db`` calls it after every
    statement): statements and time spent in them, while installed."""

    def __init__(self):
        self.count = 0
        self.time = 0.0

    def hook(self, cr, query, params, start, delay):
        self.count += 1
        self.time += delay

    def __enter__(self):
        thread = threading.current_thread()
        self._saved = getattr(thread, "query_hooks", ())
        thread.query_hooks = (*self._saved, self.hook)
        return self

    def __exit__(self, *exc):
        threading.current_thread().query_hooks = self._saved


class StatementTimes:
    """Query hook: time and count per statement text."""

    def __init__(self):
        self.time = collections.Counter()
        self.count = collections.Counter()
        self.active = False

    def hook(self, cr, query, params, start, delay):
        if self.active:
            if isinstance(query, bytes):
                query = query.decode()
            key = " ".join(str(query).split())[:200]
            self.time[key] += delay
            self.count[key] += 1


def part_growth(args, tpl):
    loaded, info = ensure_loaded(args, tpl)
    ids = main_contract_ids(tpl)
    empty_db, loaded_db = f"{args.prefix}_run_empty", f"{args.prefix}_run_loaded"
    clone_db(tpl, empty_db)
    secs = clone_db(loaded, loaded_db)
    print(f"growth: fresh clones {empty_db} and {loaded_db} ({secs:.0f}s)", flush=True)
    thread = threading.current_thread()
    sides = {}
    for key, db in (("empty", empty_db), ("loaded", loaded_db)):
        warm_in_process(db)
        sides[key] = {
            "db": db,
            "seconds": 0.0,
            "invoices": 0,
            "calls": 0,
            "stmts": StatementTimes(),
        }
    hooks = getattr(thread, "query_hooks", ())
    thread.query_hooks = (*hooks, *(s["stmts"].hook for s in sides.values()))
    try:
        todo = list(sides)
        while todo:  # one batch on each database in turn
            for key in list(todo):
                side = sides[key]
                side["stmts"].active = True
                t0 = time.perf_counter()
                with registry_env(side["db"]) as env:
                    billed = len(base_cron(env)(args.batch_size)["moves"])
                side["seconds"] += time.perf_counter() - t0
                side["stmts"].active = False
                side["calls"] += 1
                side["invoices"] += billed
                if not billed:
                    todo.remove(key)
    finally:
        thread.query_hooks = hooks
    for key, side in sides.items():
        check_billed_once(side["db"], ids, f"growth, {key}")
        side["ms_per_invoice"] = 1000 * side["seconds"] / side["invoices"]
        side["pg_seconds"] = sum(side["stmts"].time.values())
        print(
            f"growth, {key}: {side['invoices']} invoices in {side['seconds']:.1f}s "
            f"({side['calls']} cron calls): {side['ms_per_invoice']:.1f} ms/invoice, "
            f"{sum(side['stmts'].count.values()) / side['invoices']:.1f} queries/invoice, "
            f"{1000 * side['pg_seconds'] / side['invoices']:.1f} ms/invoice in PostgreSQL",
            flush=True,
        )
    empty, full = sides["empty"], sides["loaded"]
    ratio = empty["ms_per_invoice"] / full["ms_per_invoice"]
    grown = [
        (full["stmts"].time[k] - empty["stmts"].time[k], k)
        for k in set(full["stmts"].time) | set(empty["stmts"].time)
    ]
    grown.sort(reverse=True)
    n = full["invoices"]
    print("growth: statements whose time grew most (ms per invoice, empty -> loaded, calls):")
    for _delta, key in grown[: args.top]:
        print(
            f"  {1000 * empty['stmts'].time[key] / n:7.3f} -> "
            f"{1000 * full['stmts'].time[key] / n:7.3f} ({full['stmts'].count[key]}x)  {key}"
        )
    with psql_connect(loaded_db) as cnx, cnx.cursor() as cr:
        cr.execute("SELECT count(*) FROM account_move WHERE move_type = 'out_invoice'")
        held = cr.fetchone()[0]
    print(
        f"growth: ratio empty/loaded per-invoice time {ratio:.2f} "
        f"({empty['ms_per_invoice']:.1f} ms vs {full['ms_per_invoice']:.1f} ms, "
        f"loaded database holding {held} invoices after the run)",
        flush=True,
    )
    if not args.keep:
        drop_db(empty_db)
        drop_db(loaded_db)
    return {
        "ratio": ratio,
        "history": args.history,
        "held_after": held,
        "generated": info,
        **{
            key: {k: v for k, v in side.items() if k not in ("stmts", "db")}
            for key, side in sides.items()
        },
    }


# ----------------------------------------------------------------------------
# part 3: projection
# ----------------------------------------------------------------------------


def part_projection(args, billing, usage):
    """Hours for 1M contracts: each worker bills one invoice in ``c`` seconds,
    ``p`` of it waiting on PostgreSQL, ``s`` of it posting. N workers (each on
    a core of its own) bill N/c invoices per second until either PostgreSQL
    is saturated (it serves at most ``pg_cores / (c * p)`` invoices per
    second) or the journal's numbering is: Odoo 18 numbers a posted move
    under a lock on its sequence held until the transaction commits
    (``sequence_mixin._locked_increment``), so the posting of two jobs on the
    same journal does not overlap: at most ``1 / (c * s)`` invoices per second
    per sales journal."""
    cron = billing["cron"]
    c = cron["seconds"] / cron["invoices"]
    p = cron["pg_share"]
    post = cron["post_share"]
    cap = args.pg_cores / (c * p)
    seq_cap = 1 / (c * post)
    rows = []
    print(
        f"\nprojection: 1,000,000 contracts; measured single-process cost {1000 * c:.1f} "
        f"ms/invoice, {100 * p:.0f}% of it in PostgreSQL, {100 * post:.0f}% posting; "
        f"PostgreSQL on {args.pg_cores} cores caps at {cap:.0f} invoices/s, the numbering of "
        f"one sales journal at {seq_cap:.0f} invoices/s"
    )
    header = "| Workers | Billing 1M contracts (h) |"
    sep = "|---|---|"
    if usage:
        header += " Ingest 100M events (h) | Rate 100M events (h) | Roll-up 100M events (h) |"
        sep += "---|---|---|"
    else:
        header += " Ingest / rate 100M events |"
        sep += "---|"
    print(header)
    print(sep)
    for n in (1, 2, 4, 8, 16):
        rate = min(n / c, cap, seq_cap)
        hours = 1_000_000 / rate / 3600
        bound = (
            "journal numbering"
            if rate == seq_cap and n / c > seq_cap
            else "PostgreSQL"
            if rate == cap and n / c > cap
            else ""
        )
        row = {"workers": n, "billing_hours": hours, "bound": bound or "workers"}
        line = f"| {n} | {hours:.2f}{f' ({bound}-bound)' if bound else ''} |"
        if usage:
            ingest = 1e8 / (usage["ingest_events_per_s_loaded"] * n) / 3600
            rating = 1e8 * usage["rating_s_loaded"] / usage["rating_events"] / n / 3600
            rollup = 1e8 / usage["rollup_events_per_s"] / 3600
            row.update(ingest_hours=ingest, rating_hours=rating, rollup_hours=rollup)
            line += f" {ingest:.2f} | {rating:.2f} | {rollup:.2f} |"
        else:
            line += " not measured |"
        rows.append(row)
        print(line)
    measured = [
        f"{r['workers']} worker(s) measured here: {1_000_000 / r['invoices_per_s'] / 3600:.2f} h"
        for key, r in billing.items()
        if key != "cron"
    ]
    print(
        "(single cron measured here: "
        f"{1_000_000 / cron['invoices_per_s'] / 3600:.2f} h; " + "; ".join(measured) + ")"
    )
    return {
        "cost_s": c,
        "pg_share": p,
        "post_share": post,
        "pg_cores": args.pg_cores,
        "pg_cap": cap,
        "journal_cap": seq_cap,
        "rows": rows,
    }


# ----------------------------------------------------------------------------


ARGS = None


def main():
    global ARGS
    args = ARGS = parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if parts - {"billing", "growth", "projection"}:
        raise SystemExit(f"bench: unknown parts {parts}")
    if "projection" in parts and "billing" not in parts and not args.figures:
        raise SystemExit("bench: the projection needs the billing part")
    args.worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    args.odoo_home = os.path.abspath(args.odoo_home)
    if not args.addons_path:
        args.addons_path = ",".join(
            [
                os.path.join(args.odoo_home, "addons"),
                os.path.join(args.odoo_home, "odoo", "addons"),
                REPO,
            ]
        )
    sys.path.insert(0, args.odoo_home)
    import odoo

    base = ensure_base(args)
    odoo.tools.config.parse_config(
        [f"--addons-path={args.addons_path}", f"--log-level={args.log_level}", "--no-http"]
    )
    # the job descriptions of rbm_queue_job are translated in a lambda, where
    # Odoo's _() finds no language: it logs a warning with a stack each time
    logging.getLogger("odoo.tools.translate").setLevel(logging.ERROR)
    usage = None
    if args.usage_json:
        with open(args.usage_json) as f:
            usage = json.load(f)
    dirty = git("status", "--porcelain", "--untracked-files=no")
    print(
        f"scale: code {git('rev-parse', '--short', 'HEAD')}"
        f"{' + uncommitted changes' if dirty else ''}"
        f", {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    figures = {"contracts": args.contracts, "batch_size": args.batch_size}
    if args.figures:
        with open(args.figures) as f:
            earlier = json.load(f)
        for part in ("billing", "growth"):
            if part in earlier:
                figures[part] = earlier[part]
                parts.discard(part)
        figures["contracts"] = earlier["contracts"]
        print(f"scale: billing and growth figures of {args.figures}", flush=True)
    tpl = ensure_template(args, base)
    if args.prepare:
        ensure_loaded(args, tpl)
        return
    workdir = tempfile.mkdtemp(prefix="bench_scale_")
    try:
        if "billing" in parts:
            figures["billing"] = part_billing(args, tpl, workdir)
        if "growth" in parts:
            figures["growth"] = part_growth(args, tpl)
        if "projection" in parts:
            figures["projection"] = part_projection(args, figures["billing"], usage)
    finally:
        if os.environ.get("BENCH_KEEP_LOGS"):
            print(f"bench: server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2, default=str)
    parts_text = [f"scale: {figures['contracts']} invoices"]
    billing = figures.get("billing")
    if billing:
        jobs = [k for k in billing if k != "cron"]
        best = jobs[-1] if jobs else "cron"
        others = ", ".join(
            f"{billing[k]['workers']} worker{'s' if billing[k]['workers'] > 1 else ''} "
            f"{billing[k]['speedup']:.2f}"
            for k in jobs[:-1]
        )
        workers = billing[best].get("workers", 0)
        parts_text.append(
            f"speedup {billing[best]['speedup']:.2f} with {workers} job workers"
            + (f" ({others})" if others else "")
            + f", {billing[best]['queries_per_invoice']:.1f} queries/invoice"
            f" (single cron {billing['cron']['queries_per_invoice']:.1f})"
        )
    growth = figures.get("growth")
    if growth:
        parts_text.append(f"growth {growth['ratio']:.2f} at {growth['history']} invoices")
    print(", ".join(parts_text), flush=True)


if __name__ == "__main__":
    main()
