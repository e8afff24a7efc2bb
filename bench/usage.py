#!/usr/bin/env python3
"""Usage ingestion benchmark: events sent through the HTTP API by a separate
client process, the rating of them, and plain Odoo ORM ``create`` of the same
rows, in the same run.

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/usage.py            # 1,000,000 events
    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/usage.py --events 100000

1. Database ``--db`` (default ``rbm_bench_usage``, a throwaway database): created
   with ``-i rbm_metering --without-demo=all`` when missing, then cleaned (its
   usage events truncated). Its ``--contracts`` (10,000) monthly in-arrears
   contracts with a usage line (100 GB allowance, started on the 1st of last
   month) are created once with the ORM and committed; they are reused by the
   next runs (recreated when the month changed or the count differs).
2. A real Odoo HTTP server is started as a subprocess (``odoo-bin
   --workers=W --max-cron-threads=0``; default ``--workers=0``, the threaded
   server: on 2 cores it beat 2 prefork workers, 23,900 against 16,800 events/s,
   as PostgreSQL and the client need the other core) and an API key is generated.
3. A separate client process (this script with ``--client``) builds the JSON
   bodies of ``--events`` events (batches of ``--batch-size``, dated last month,
   random contracts) *before* timing, warms the server up, then POSTs them to
   ``/rbm/api/v1/usage`` over ``--connections`` (2) concurrent connections
   (``requests.Session`` per thread) and times from the first request to the last
   answer. Every event must come back ``accepted``.
4. Rating (``ANALYZE`` first, untimed): for all contracts, as the billing run
   does it without creating invoices: ``_prepare_billing_state`` (the SQL
   aggregation per contract, metric and period) and ``_prepare_extra_invoice_line_vals``
   (the priced usage invoice lines) of every due period. Every event must be rated.
5. Plain Odoo: ``env["rbm.usage"].create(vals_list)`` of ``--orm-sample`` (100,000)
   rows of the same kind, in batches of ``--batch-size``, flushed, rolled back; its
   rate is the sample's. Also the queries per 1,000 events of the route's work
   (API key check + ``_ingest``), counted in-process on a few batches (rolled back).

The last line is the summary, e.g.::

    usage: 1000000 events, 23400 events/s ingest, ratio 41.2 vs ORM create, rating 6.1 s
"""

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402 - what the benchmarks share (bench/common.py)

METRIC = "bench_storage_gb"
PARTNER_PREFIX = "Bench usage customer"


# the other price models the rating is timed with (--price-models): the values
# written on every contract's usage line
PRICE_MODELS = {
    # the payment-facilitator model: each event's charge computed on its own
    "percentage": lambda Command: {
        "price_model": "percentage",
        "percent_rate": 1.99,
        "event_fixed_fee": 0.39,
        "event_min_amount": 0.50,
        "event_max_amount": 5.00,
        "free_events": 3,
    },
    # prices by the events' region: two values listed (sub-cent prices), the rest default
    "region": lambda Command: {
        "price_property": "region",
        "price_filter_ids": [
            Command.create({"value": "sp", "price_model": "per_unit", "price_unit": 0.000125}),
            Command.create(
                {
                    "value": "rj",
                    "price_model": "graduated",
                    "tier_ids": [
                        Command.create({"from_qty": 0, "to_qty": 10, "price": 0.005}),
                        Command.create({"from_qty": 10, "to_qty": 0, "price": 0.0001}),
                    ],
                }
            ),
        ],
    },
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="rbm_bench_usage", help="throwaway database")
    parser.add_argument("--events", "-n", type=int, default=1000000, help="events (1,000,000)")
    parser.add_argument("--batch-size", type=int, default=5000, help="events per request (5,000)")
    parser.add_argument("--contracts", type=int, default=10000, help="contracts (10,000)")
    parser.add_argument("--connections", type=int, default=2, help="concurrent connections (2)")
    parser.add_argument("--workers", type=int, default=0, help="odoo-bin --workers (0)")
    parser.add_argument("--orm-sample", type=int, default=100000, help="ORM create rows (100,000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    parser.add_argument(
        "--price-models",
        nargs="*",
        default=sorted(PRICE_MODELS),
        choices=sorted(PRICE_MODELS),
        help="also time the rating with these price models (default: all)",
    )
    common.add_odoo_arguments(parser)
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)  # client mode: spec file
    return parser.parse_args()


# ----------------------------------------------------------------------------
# the client process
# ----------------------------------------------------------------------------


def client_main(spec_path):
    """POST the events described by the spec file; prints one JSON result line."""
    import requests

    with open(spec_path) as f:
        spec = json.load(f)
    rng = random.Random(spec["seed"])
    contract_ids, size, n = spec["contract_ids"], spec["batch_size"], spec["events"]
    low = datetime.fromisoformat(spec["low"])
    span, metric = spec["span"], spec["metric"]

    def body(prefix, start, count):
        events = [
            {
                "idempotency_key": f"{prefix}-{i:08d}",
                "metric": metric,
                "contract_id": rng.choice(contract_ids),
                "quantity": round(rng.uniform(0.1, 0.5), 3),
                "timestamp": (low + timedelta(seconds=rng.randrange(span))).isoformat() + "Z",
                "properties": {"region": rng.choice(["sp", "rj", "mg"])},
            }
            for i in range(start, start + count)
        ]
        return json.dumps({"events": events}).encode()

    t0 = time.perf_counter()
    bodies = [body("http", start, min(size, n - start)) for start in range(0, n, size)]
    warmup = [body("warm", i * size, size) for i in range(2 * spec["connections"])]
    prepare = time.perf_counter() - t0
    url = spec["url"] + "/rbm/api/v1/usage"
    headers = {"Authorization": f"Bearer {spec['key']}", "Content-Type": "application/json"}
    lock = threading.Lock()
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0, "requests": 0, "errors": []}

    def worker(queue):
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                data = queue.pop()
            answer = session.post(url, data=data, headers=headers, timeout=600)
            with lock:
                totals["requests"] += 1
                if answer.status_code != 200:
                    totals["errors"].append(f"{answer.status_code} {answer.text[:300]}")
                    continue
                result = answer.json()
                for status in ("accepted", "duplicate", "rejected"):
                    totals[status] += result[status]
                if result["rejected"] and len(totals["errors"]) < 5:
                    bad = [r for r in result["results"] if r["status"] == "rejected"][:3]
                    totals["errors"].append(json.dumps(bad))

    def run(queue):
        threads = [
            threading.Thread(target=worker, args=(queue,)) for _ in range(spec["connections"])
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    run(list(warmup))
    warm_accepted = totals["accepted"]
    totals.update(accepted=0, duplicate=0, rejected=0, requests=0)
    bodies.reverse()  # popped from the end: sent in order
    t0 = time.perf_counter()
    run(bodies)
    seconds = time.perf_counter() - t0
    totals.update(seconds=seconds, prepare=prepare, warmup_accepted=warm_accepted)
    print(json.dumps(totals), flush=True)


# ----------------------------------------------------------------------------
# database and server
# ----------------------------------------------------------------------------


def odoo_cmd(args, *extra):
    return [
        sys.executable,
        os.path.join(args.odoo_home, "odoo-bin"),
        f"--addons-path={args.addons_path}",
        "-d",
        args.db,
        f"--db-filter=^{args.db}$",
        *extra,
    ]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, log_path):
    import requests

    port = free_port()
    cmd = odoo_cmd(
        args,
        f"--http-port={port}",
        "--http-interface=127.0.0.1",
        f"--workers={args.workers}",
        "--max-cron-threads=0",
        "--limit-time-cpu=600",
        "--limit-time-real=1200",
        "--log-level=warn",
        f"--logfile={log_path}",
    )
    print("bench: starting", " ".join(cmd[1:]), flush=True)
    # (stderr to the log too: with --workers the prefork server also tries the
    # gevent long-polling process, which may be unavailable; it is not used here)
    with open(log_path, "a") as log:
        server = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"bench: the server exited ({server.returncode}); see {log_path}")
        try:
            if requests.get(url + "/rbm/api/v1/openapi.json", timeout=5).status_code == 200:
                return server, url
        except requests.RequestException:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit(f"bench: the server did not answer in 120 s; see {log_path}")


def code_version():
    git = common.git
    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "rbm_metering")
    return f"{head}" + (f" + {len(dirty.splitlines())} changes in rbm_metering" if dirty else "")


# ----------------------------------------------------------------------------
# the benchmark
# ----------------------------------------------------------------------------


def ingest_over_http(args, key, contract_ids, metric_code, low, span):
    """Send ``--events`` events with API key ``key`` to a fresh Odoo server
    subprocess from a separate client process (``--client``); the client's
    result (``seconds``, ``requests``, ``prepare``, ``warmup_accepted``...),
    every event checked accepted."""
    log_path = os.path.join(tempfile.gettempdir(), f"bench_usage_{args.db}_server.log")
    server, url = start_server(args, log_path)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            json.dump(
                {
                    "url": url,
                    "key": key,
                    "seed": args.seed,
                    "contract_ids": contract_ids,
                    "batch_size": args.batch_size,
                    "events": args.events,
                    "connections": args.connections,
                    "low": low.isoformat(),
                    "span": span,
                    "metric": metric_code,
                },
                spec,
            )
        client = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--client", spec.name],
            capture_output=True,
            text=True,
            check=False,
        )
        os.unlink(spec.name)
    finally:
        server.terminate()
        server.wait(60)
    if client.returncode:
        raise SystemExit(f"bench: the client failed:\n{client.stderr[-3000:]}")
    result = json.loads(client.stdout.strip().splitlines()[-1])
    if result["errors"] or result["accepted"] != args.events:
        raise SystemExit(f"bench: ingestion failed: {json.dumps(result)[:3000]}")
    return result


def setup(env, args, start):
    """The bench contracts (created once, committed) and the metric."""
    from odoo.fields import Command

    quiet = env(context={"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True})
    env.cr.execute("TRUNCATE rbm_usage")  # no bloat left by the previous run
    env.cr.execute("DELETE FROM rbm_api_key")
    metric = quiet["rbm.metric"].search([("code", "=", METRIC)])
    contracts = quiet["rbm.contract"].search(
        [("partner_id.name", "=like", f"{PARTNER_PREFIX}%")], order="id"
    )
    if (
        metric
        and len(contracts) == args.contracts
        and set(contracts.mapped("date_start")) == {start}
    ):
        return metric, contracts, False
    if contracts:
        raise SystemExit(
            f"bench: {args.db} holds {len(contracts)} bench contracts of another run; "
            f"drop it (dropdb {args.db}) and start again"
        )
    metric = quiet["rbm.metric"].create(
        {"code": METRIC, "name": "Bench storage", "unit_label": "GB"}
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
    for offset in range(0, args.contracts, 1000):
        count = min(1000, args.contracts - offset)
        partners = quiet["res.partner"].create(
            [{"name": f"{PARTNER_PREFIX} {offset + i:05d}"} for i in range(count)]
        )
        batch = quiet["rbm.contract"].create(
            [{"partner_id": p.id, "plan_id": plan.id, "date_start": start} for p in partners]
        )
        batch.action_activate()
        env.flush_all()
        contracts |= batch
    return metric, contracts, True


def run(args):
    from dateutil.relativedelta import relativedelta

    import odoo
    from odoo import SUPERUSER_ID, Command, api, fields

    registry = odoo.modules.registry.Registry(args.db)
    t_setup = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        today = fields.Date.context_today(env["rbm.contract"])
        start = today.replace(day=1) - relativedelta(months=1)
        metric, contracts, created = setup(env, args, start)
        company = env.company
        api_key, key = env["rbm.api.key"]._generate("bench", company)
        contract_ids = contracts.ids
        metric_id, metric_code = metric.id, metric.code
        cr.commit()
    low = datetime.combine(start, datetime.min.time())
    span = int((datetime.combine(today.replace(day=1), datetime.min.time()) - low).total_seconds())
    print(
        f"setup: {len(contract_ids)} contracts ({'created' if created else 'reused'}, from "
        f"{start}) in {time.perf_counter() - t_setup:.1f}s; today {today}; code {code_version()}",
        flush=True,
    )

    # --- ingestion over HTTP ------------------------------------------------
    result = ingest_over_http(args, key, contract_ids, metric_code, low, span)
    http_rate = args.events / result["seconds"]
    print(
        f"ingest HTTP: {args.events} events in {result['requests']} requests of "
        f"{args.batch_size}, {args.connections} connections, --workers={args.workers}: "
        f"{result['seconds']:.2f}s = {http_rate:.0f} events/s "
        f"(bodies built before timing in {result['prepare']:.1f}s)",
        flush=True,
    )
    expected = args.events + result["warmup_accepted"]

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        company = env.company
        contracts = env["rbm.contract"].browse(contract_ids)

        # --- rating ----------------------------------------------------------
        def rate(label):
            cr.execute("ANALYZE rbm_usage")
            env.invalidate_all()
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
            queries = cr.sql_log_count - q0
            rated = sum(item["count"] for item in state["usage_rated"])
            if rated != expected:
                raise SystemExit(f"bench: {label}: rated {rated} events, expected {expected}")
            print(
                f"rating ({label}): {rated} events of {len(contracts)} contracts into "
                f"{len(lines)} usage invoice lines in {seconds:.2f}s, {queries} queries",
                flush=True,
            )
            return seconds

        rating_seconds = rate("allowance")
        others = {}
        for model in args.price_models:
            # the same events under another price model (set untimed, then undone)
            savepoint = cr.savepoint(flush=False)
            try:
                usage_lines = contracts.line_ids.filtered("metric_id")
                usage_lines.write(PRICE_MODELS[model](Command))
                env.flush_all()
                others[model] = rate(model)
            finally:
                env.invalidate_all()
                savepoint.close(rollback=True)

        # --- queries of the route's work, in-process -------------------------
        rng = random.Random(args.seed + 1)
        Usage = env["rbm.usage"].with_company(company).sudo()

        def events(prefix, count):
            return [
                {
                    "idempotency_key": f"{prefix}-{i:08d}",
                    "metric": metric_code,
                    "contract_id": rng.choice(contract_ids),
                    "quantity": round(rng.uniform(0.1, 0.5), 3),
                    "timestamp": (low + timedelta(seconds=rng.randrange(span))).isoformat() + "Z",
                    "properties": {"region": rng.choice(["sp", "rj", "mg"])},
                }
                for i in range(count)
            ]

        q0, probe = cr.sql_log_count, 0
        for batch in range(5):
            env.invalidate_all()
            env["rbm.api.key"]._authenticate(key)
            Usage._ingest(company, events(f"probe{batch}", args.batch_size), source="api")
            probe += args.batch_size
        route_queries = (cr.sql_log_count - q0) * 1000 / probe

        # --- plain ORM create --------------------------------------------------
        sample = min(args.orm_sample, args.events)
        orm_seconds, q0 = 0.0, cr.sql_log_count
        for offset in range(0, sample, args.batch_size):
            count = min(args.batch_size, sample - offset)
            vals_list = [
                {
                    "company_id": company.id,
                    "idempotency_key": e["idempotency_key"],
                    "contract_id": e["contract_id"],
                    "metric_id": metric_id,
                    "quantity": e["quantity"],
                    "timestamp": datetime.fromisoformat(e["timestamp"][:-1]),
                    "effective_timestamp": datetime.fromisoformat(e["timestamp"][:-1]),
                    "properties": e["properties"],
                    "source": "api",
                }
                for e in events(f"orm{offset}", count)
            ]
            env.invalidate_all()
            t0 = time.perf_counter()
            Usage.create(vals_list)
            env.flush_all()
            orm_seconds += time.perf_counter() - t0
        orm_queries = (cr.sql_log_count - q0) * 1000 / sample
        orm_rate = sample / orm_seconds
        cr.rollback()
    print(
        f"ORM create: {sample} rows in {orm_seconds:.2f}s = {orm_rate:.0f} events/s, "
        f"{orm_queries:.1f} queries per 1000 events (route's work: {route_queries:.1f})",
        flush=True,
    )
    print(
        f"usage: {args.events} events, {http_rate:.0f} events/s ingest, ratio "
        f"{http_rate / orm_rate:.1f} vs ORM create, rating {rating_seconds:.1f} s"
        + "".join(f", {model} {seconds:.1f} s" for model, seconds in others.items()),
        flush=True,
    )


def main():
    args = parse_args()
    if args.client:
        client_main(args.client)
        return
    if min(args.events, args.batch_size, args.contracts, args.connections) < 1:
        raise SystemExit("bench: --events, --batch-size, --contracts, --connections must be > 0")
    # the bench serves the API over HTTP
    common.setup_odoo(args, "rbm_metering", http=True)
    run(args)


if __name__ == "__main__":
    main()
