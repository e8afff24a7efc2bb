"""What the benchmarks share: the Odoo bootstrap of the bench database, git,
the measurement windows (wall time and query count) and the query profiler.

Each benchmark (billing.py, usage.py, cnab.py, collection.py, kpi.py) puts
this folder on ``sys.path`` and imports it as ``common``. See bench/README.md.
"""

import collections
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# the benchmarks' own frames (timers, wrappers) are not call sites of the profile
BENCH_LIBRARY = {__file__, os.path.abspath(__file__)}


def add_odoo_arguments(parser):
    """The options every benchmark reads through ``setup_odoo``."""
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


# ----------------------------------------------------------------------------
# database bootstrap
# ----------------------------------------------------------------------------


def db_state(dbname, module="rbm_recurring"):
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


def setup_odoo(args, module="rbm_recurring", http=False):
    """Find Odoo (``--odoo-home``), put it on ``sys.path``, install ``module``
    in the bench database (or update it with ``--update``) and configure
    Odoo for that database, without its HTTP server unless ``http``."""
    odoo_home = os.path.abspath(args.odoo_home)
    if not os.path.isfile(os.path.join(odoo_home, "odoo-bin")):
        raise SystemExit(f"bench: no odoo-bin in {odoo_home}; set ODOO_HOME or --odoo-home")
    args.odoo_home = odoo_home
    if not args.addons_path:
        args.addons_path = ",".join(
            [os.path.join(odoo_home, "addons"), os.path.join(odoo_home, "odoo", "addons"), REPO]
        )
    sys.path.insert(0, odoo_home)
    import odoo  # after sys.path

    exists, state = db_state(args.db, module)
    if not exists or state != "installed":
        run_odoo_bin(args, ["-i", module, "--without-demo=all"])
    elif getattr(args, "update", False):
        run_odoo_bin(args, ["-u", module])
    options = [f"--addons-path={args.addons_path}", "-d", args.db, f"--log-level={args.log_level}"]
    odoo.tools.config.parse_config(options if http else [*options, "--no-http"])


def git(*cmd):
    """Output of a git command in the repository ("" when git is unavailable)."""
    try:
        return subprocess.run(
            ["git", "-C", REPO, *cmd], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def missing_columns(registry):
    """Stored fields of the rbm models (and the models they extend) that have no
    column yet: the addons changed since the database was installed/updated."""
    with registry.cursor() as cr:
        cr.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
        )
        columns = set(cr.fetchall())
    missing = []
    for model in registry.values():
        if model._abstract or not model._auto or model._table_query:
            continue
        for field in model._fields.values():
            if field.store and field.column_type and (model._table, field.name) not in columns:
                missing.append(f"{model._name}.{field.name}")
    return missing


def ensure_accounting(env):
    """The company needs a chart of accounts and a sales journal; Odoo 18 loads
    the generic chart when account is installed without demo, else load it."""
    company = env.company
    if not company.chart_template:
        print(f"bench: {company.name} has no chart of accounts, loading generic_coa", flush=True)
        env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
        env.cr.commit()
    journal = env["account.journal"].search(
        [("type", "=", "sale"), *env["account.journal"]._check_company_domain(company)], limit=1
    )
    if not journal:
        raise SystemExit(f"bench: company {company.name} has no sales journal")
    return company, journal


# ----------------------------------------------------------------------------
# measurement helpers
# ----------------------------------------------------------------------------


class Meter:
    """Sums wall time and query count over several timed windows."""

    def __init__(self, cr):
        self.cr = cr
        self.seconds = 0.0
        self.queries = 0
        self.durations = []
        self._t0 = self._q0 = None

    def __enter__(self):
        self._q0 = self.cr.sql_log_count
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        duration = time.perf_counter() - self._t0
        self.seconds += duration
        self.queries += self.cr.sql_log_count - self._q0
        self.durations.append(duration)

    @property
    def median(self):
        return statistics.median(self.durations) if self.durations else 0.0


class Phases:
    """Time and queries spent in named phases (inclusive), while ``active``."""

    def __init__(self, cr):
        self.cr = cr
        self.active = False
        self.seconds = collections.Counter()
        self.queries = collections.Counter()

    def add(self, name, seconds, queries):
        self.seconds[name] += seconds
        self.queries[name] += queries

    def timed(self, name, func, *args, **kwargs):
        q0, t0 = self.cr.sql_log_count, time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            self.add(name, time.perf_counter() - t0, self.cr.sql_log_count - q0)


_TABLE_RE = re.compile(r'\b(?:FROM|INTO|UPDATE|JOIN)\s+"?([a-z_][a-z0-9_]*)"?', re.IGNORECASE)


def statement_kind(query):
    """'SELECT account_move', 'INSERT account_move_line', 'SAVEPOINT', ..."""
    text = query.strip()
    verb = text.split(None, 1)[0].upper() if text else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    if verb == "WITH":
        verb = "WITH…"
    match = _TABLE_RE.search(text)
    return f"{verb} {match.group(1)}" if match else verb


class QueryProfiler:
    """Query hook (see odoo.sql_db.Cursor.execute): counts statements and the
    code that issued them."""

    def __init__(self, repo):
        self.repo = repo + os.sep
        self.odoo_core = None
        self.by_kind = collections.Counter()
        self.by_statement = collections.Counter()
        self.by_repo_site = collections.Counter()
        self.by_model_site = collections.Counter()
        self.by_repo_and_model_site = collections.Counter()
        self.by_repo_and_kind = collections.Counter()
        self.active = False

    def _site(self, frame):
        code = frame.f_code
        path = code.co_filename
        for marker in ("/addons/", "/odoo/"):
            if marker in path:
                path = path[path.rindex(marker) + 1 :]
                break
        if path.startswith(self.repo):
            path = path[len(self.repo) :]
        return f"{path}:{frame.f_lineno} {code.co_name}"

    def hook(self, cr, query, params, start, delay):
        if not self.active:
            return
        if isinstance(query, bytes):
            query = query.decode()
        kind = statement_kind(query)
        self.by_kind[kind] += 1
        self.by_statement[" ".join(query.split())[:160]] += 1
        frame = sys._getframe(1)
        model_site = repo_site = None
        while frame is not None:
            path = frame.f_code.co_filename
            if path in BENCH_LIBRARY and frame.f_code.co_name in ("timed", "wrapper"):
                pass  # the phase timers of this script
            elif path.startswith(self.repo):
                repo_site = self._site(frame)
                break
            if model_site is None and not _is_orm_plumbing(path):
                model_site = self._site(frame)
            frame = frame.f_back
        repo_site = repo_site or "(outside the repo)"
        model_site = model_site or repo_site
        self.by_repo_site[repo_site] += 1
        self.by_model_site[model_site] += 1
        self.by_repo_and_model_site[(repo_site, model_site)] += 1
        self.by_repo_and_kind[(repo_site, kind)] += 1


_PLUMBING = (
    os.sep + os.path.join("odoo", "sql_db.py"),
    os.sep + os.path.join("odoo", "models.py"),
    os.sep + os.path.join("odoo", "fields.py"),
    os.sep + os.path.join("odoo", "api.py"),
    os.sep + os.path.join("odoo", "tools") + os.sep,
    os.sep + os.path.join("odoo", "osv") + os.sep,
    os.sep + "contextlib.py",
    os.sep + "functools.py",
    os.path.join("base", "models", "ir_model.py"),
    os.path.join("base", "models", "ir_rule.py"),
    os.path.join("base", "models", "ir_translation.py"),
    "<decorator-gen",
)


def _is_orm_plumbing(path):
    return any(part in path for part in _PLUMBING) or path in BENCH_LIBRARY


def print_profile(title, prof, invoices, top):
    print(
        f"\n--- profile: {title} ({sum(prof.by_kind.values())} queries, "
        f"{sum(prof.by_kind.values()) / invoices:.2f} per invoice)"
    )
    print("  by statement kind (queries per invoice):")
    for kind, count in prof.by_kind.most_common(top):
        print(f"    {count / invoices:7.2f}  {kind}")
    print("  by statement (queries per invoice):")
    for stmt, count in prof.by_statement.most_common(top):
        print(f"    {count / invoices:7.2f}  {stmt}")
    print("  by innermost repo call site (queries per invoice):")
    for site, count in prof.by_repo_site.most_common(top):
        print(f"    {count / invoices:7.2f}  {site}")
        kinds = [(k, c) for (s, k), c in prof.by_repo_and_kind.items() if s == site]
        kinds.sort(key=lambda kc: -kc[1])
        for kind, c in kinds[:6]:
            print(f"    {'':7}    {c / invoices:7.2f}  {kind}")
    print("  by innermost non-ORM call site (queries per invoice):")
    for site, count in prof.by_model_site.most_common(top):
        print(f"    {count / invoices:7.2f}  {site}")
