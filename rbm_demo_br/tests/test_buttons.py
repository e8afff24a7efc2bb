"""Every button of every RBM form pressed as each kind of user, on the
Brazilian demo's records, the way the web client presses them."""

import json
import logging
import re
from urllib.parse import urlsplit

from lxml import etree

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

_logger = logging.getLogger(__name__)

# what a button may end in besides an action or nothing: a message that says
# what is wrong or what to configure, shown in a dialog
USER_ERRORS = {
    "odoo.exceptions.UserError",
    "odoo.exceptions.ValidationError",
    "odoo.exceptions.RedirectWarning",
}
# records of each model pressed on: one of each state, at most this many
RECORDS_PER_MODEL = 6
# buttons not pressed, each with its reason: they call an outside service (the
# tests of their addon answer it with a mocked response)
SKIPPED = {
    ("payment.provider", "action_pagbank_fetch_public_key"): "asks PagBank's API for a key",
    ("payment.transaction", "action_pagbank_refresh"): "asks PagBank's API for the order",
    ("rbm.price.index", "action_import_sgs"): "downloads the index from the Banco Central",
}


class _RecordValues(dict):
    """The evaluation context of a form's modifiers: a field's value as the
    web client holds it (many2one: id, x2many: ids, dates as text), read on
    first use."""

    def __init__(self, record, **values):
        super().__init__(values)
        self.record = record

    def __missing__(self, name):
        if name not in self.record._fields:
            raise KeyError(name)
        field = self.record._fields[name]
        value = self.record[name]
        if field.type == "many2one":
            value = value.id
        elif field.type in ("one2many", "many2many"):
            value = value.ids
        elif field.type == "date":
            value = fields.Date.to_string(value) if value else False
        elif field.type == "datetime":
            value = fields.Datetime.to_string(value) if value else False
        self[name] = value
        return value


def _form_buttons(arch):
    """The header, stat and sheet buttons of a form arch (not those of the
    lists and forms of its x2many fields), with type object or action."""
    root = etree.fromstring(arch)
    buttons = []
    for node in root.iter("button"):
        if any(parent.tag == "field" for parent in node.iterancestors()):
            continue
        if node.get("type") not in ("object", "action") or not node.get("name"):
            continue
        buttons.append(node)
    return buttons


@tagged("post_install", "-at_install")
class TestEveryButtonAsEachUser(HttpCase):
    """Each kind of user opens every form view of the RBM models on the demo's
    records and presses each header and stat button they can see (their
    groups, the ``invisible`` expression evaluated on the record), through
    ``/web/dataset/call_button`` with their own session, each in a savepoint
    rolled back afterwards. A button may open a wizard or another view (then
    the view is loaded as the web client does) or answer with a message that
    says what to do (UserError, ValidationError); any other error fails."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.ref("rbm_demo_br.company_br")

        def user(login, groups):
            return new_test_user(
                cls.env,
                login=login,
                password=f"{login}-pass-1234",
                groups=groups,
                company_id=cls.company.id,
                company_ids=[(6, 0, cls.company.ids)],
                tz="America/Sao_Paulo",
            )

        cls.staff = user(
            "cobranca",
            "base.group_user,rbm_dunning.rbm_dunning_group_user,"
            "rbm_metering.rbm_metering_group_user",
        )
        cls.manager = user(
            "gestor",
            "base.group_user,rbm_recurring.rbm_recurring_group_manager,"
            "account.group_account_manager,base.group_system",
        )
        cls.accountant = user("contador", "base.group_user,account.group_account_invoice")

        # a record of the RBM models the demo leaves empty, in its company
        env = cls.env(context=dict(cls.env.context, allowed_company_ids=cls.company.ids))
        contract = env["rbm.contract"].search(
            [("company_id", "=", cls.company.id), ("state", "=", "active")], limit=1
        )
        endpoint = env["rbm.provisioning.endpoint"].create(
            {
                "name": "Plataforma",
                "url": "https://plataforma.example.com/hook",
                "secret": "s3cr3t",
                "company_id": cls.company.id,
            }
        )
        env["rbm.provisioning.event"].create(
            {
                "endpoint_id": endpoint.id,
                "contract_id": contract.id,
                "event_type": "activated",
                "payload": "{}",
                "state": "dead",
            }
        )
        env["rbm.campaign"].create(
            {
                "name": "Boas-vindas",
                "code": "BEMVINDO10",
                "discount_type": "percent",
                "discount_value": 10,
                "period_count": 3,
                "plan_ids": [(6, 0, contract.plan_id.ids)],
                "company_id": cls.company.id,
            }
        )
        env["rbm.api.key"]._generate("Plataforma", cls.company)

    # ------------------------------------------------------------------ helpers
    def _rpc(self, route, params):
        """JSON-RPC as the web client sends it: (result, error data or None)."""
        response = self.url_open(
            route,
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200, f"{route}: HTTP {response.status_code}")
        body = response.json()
        if "error" in body:
            return None, body["error"]["data"]
        return body["result"], None

    def _form_models(self):
        """Models with an RBM form view: the RBM models' own forms, and the
        forms RBM extends with buttons (invoice, customer...)."""
        views = self.env["ir.ui.view"].search([("type", "=", "form")])
        rbm_views = views.filtered(
            lambda v: any(
                xmlid.split(".")[0].startswith(("rbm_", "payment_pagbank"))
                for xmlid in v.get_external_id().values()
                if xmlid
            )
        )
        models = {}
        for view in rbm_views:
            model = self.env[view.model]
            if model._transient or model._abstract:
                continue
            # the buttons RBM adds to another addon's form
            names = None
            if not view.model.startswith("rbm."):
                names = {node.get("name") for node in etree.fromstring(view.arch).iter("button")}
            models.setdefault(view.model, set())
            if names is None:
                models[view.model] = None
            elif models[view.model] is not None:
                models[view.model] |= names
        return models

    def _records(self, user, model_name):
        Model = (
            self.env[model_name].with_user(user).with_context(allowed_company_ids=self.company.ids)
        )
        domain = []
        if "company_id" in Model._fields and Model._fields["company_id"].store:
            domain = [("company_id", "in", [self.company.id, False])]
        if model_name == "account.move":
            domain += [("move_type", "=", "out_invoice")]
        if model_name == "res.partner":
            domain += [("customer_rank", ">", 0)]
        if "state" not in Model._fields or not Model._fields["state"].store:
            return Model.search(domain, limit=1)
        records = Model.browse()
        for state in Model._fields["state"].get_values(self.env):
            records |= Model.search(domain + [("state", "=", state)], limit=1)
            if len(records) >= RECORDS_PER_MODEL:
                break
        return records

    def _context(self, user):
        return {
            "lang": "en_US",
            "tz": "America/Sao_Paulo",
            "uid": user.id,
            "allowed_company_ids": self.company.ids,
        }

    def _press(self, user, record, button, context):
        """Press ``button`` on ``record``: a failure message, or None."""
        kind, name = button.get("type"), button.get("name")
        button_context = dict(context)
        if button.get("context"):
            try:
                button_context.update(
                    safe_eval(
                        button.get("context"),
                        _RecordValues(record, context=context),
                        nocopy=True,
                    )
                )
            except Exception:  # noqa: BLE001 - an expression the client would evaluate
                pass
        if kind == "object":
            result, error = self._rpc(
                f"/web/dataset/call_button/{record._name}/{name}",
                {
                    "model": record._name,
                    "method": name,
                    "args": [record.ids],
                    "kwargs": {"context": button_context},
                },
            )
        else:
            result, error = self._rpc(
                "/web/action/load", {"action_id": name, "context": button_context}
            )
        if error:
            if error["name"] in USER_ERRORS:
                return None
            return f"{error['name']}: {error['message']}"
        if isinstance(result, dict) and result.get("type") == "ir.actions.act_window":
            return self._open_action(result, button_context)
        return None

    def _open_action(self, action, context):
        """Load the views of the window a button opened, and its defaults when
        it opens a new record (a wizard), as the web client does."""
        action_context = action.get("context") or {}
        if isinstance(action_context, str):
            try:
                action_context = safe_eval(action_context, {"uid": context["uid"]})
            except Exception:  # noqa: BLE001
                action_context = {}
        ctx = {**context, **action_context}
        model = action["res_model"]
        views = action.get("views") or [[False, "form"]]
        result, error = self._rpc(
            f"/web/dataset/call_kw/{model}/get_views",
            {
                "model": model,
                "method": "get_views",
                "args": [],
                "kwargs": {"views": views, "options": {}, "context": ctx},
            },
        )
        if error:
            return f"opening {model}: {error['name']}: {error['message']}"
        if views[0][1] == "form" and not action.get("res_id"):
            form = result["views"]["form"]
            names = {
                node.get("name")
                for node in etree.fromstring(form["arch"]).iter("field")
                if node.getparent() is not None
            }
            names &= set(result["models"][model]["fields"])
            _result, error = self._rpc(
                f"/web/dataset/call_kw/{model}/onchange",
                {
                    "model": model,
                    "method": "onchange",
                    "args": [[], {}, [], {name: {} for name in names}],
                    "kwargs": {"context": ctx},
                },
            )
            if error and error["name"] not in USER_ERRORS:
                return f"new {model}: {error['name']}: {error['message']}"
        return None

    def _press_every_button(self, user):
        """Press every visible button of every RBM form on the demo's records
        as ``user``: the buttons pressed, the failures."""
        self.authenticate(user.login, f"{user.login}-pass-1234")
        context = self._context(user)
        pressed, failures = [], []
        for model_name, only in sorted(self._form_models().items()):
            Model = self.env[model_name].with_user(user)
            if not Model.has_access("read"):
                _logger.info("%s may not read %s", user.login, model_name)
                continue
            records = self._records(user, model_name)
            if not records:
                _logger.info("%s: no %s record to open", user.login, model_name)
                continue
            arch = Model.with_context(**context).get_views([(False, "form")])["views"]["form"][
                "arch"
            ]
            for record in records:
                values = _RecordValues(
                    record.with_context(**context),
                    context=context,
                    uid=user.id,
                    id=record.id,
                    current_company_id=self.company.id,
                    allowed_company_ids=self.company.ids,
                )
                for button in _form_buttons(arch):
                    name = button.get("name")
                    if only is not None and name not in only:
                        continue
                    if (model_name, name) in SKIPPED:
                        continue
                    invisible = button.get("invisible")
                    if invisible:
                        try:
                            if safe_eval(invisible, values, nocopy=True):
                                continue
                        except Exception as error:  # noqa: BLE001
                            failures.append(
                                f"{model_name}.{name}: invisible={invisible!r} not evaluated: "
                                f"{error!r}"
                            )
                            continue
                    self.env.flush_all()
                    self.env.cr.execute("SAVEPOINT rbm_button")
                    try:
                        failure = self._press(user, record, button, context)
                    finally:
                        self.env.cr.execute("ROLLBACK TO SAVEPOINT rbm_button")
                        self.env.invalidate_all()
                    label = f"{model_name}({record.id}).{name}"
                    pressed.append(label)
                    if failure:
                        failures.append(f"{label} [{user.login}]: {failure}")
        _logger.info(
            "%s pressed %s buttons on %s records of %s models",
            user.login,
            len(pressed),
            len({p.split(")")[0] for p in pressed}),
            len({p.split("(")[0] for p in pressed}),
        )
        return pressed, failures

    # -------------------------------------------------------------------- tests
    def test_staff_presses_every_button(self):
        pressed, failures = self._press_every_button(self.staff)
        self.assertFalse(failures, "\n".join(failures))
        # the collection and billing forms were reached
        for label in ("rbm.contract(", "rbm.collection.account(", "rbm.boleto("):
            self.assertTrue(any(p.startswith(label) for p in pressed), label)

    def test_manager_presses_every_button(self):
        pressed, failures = self._press_every_button(self.manager)
        self.assertFalse(failures, "\n".join(failures))
        for label in ("rbm.contract(", "rbm.plan(", "rbm.collection.policy(", "account.move("):
            self.assertTrue(any(p.startswith(label) for p in pressed), label)

    def test_accountant_presses_every_button(self):
        """An accountant without RBM groups: the invoice buttons RBM adds, and
        the buttons of the collection records they may read (boletos, CNAB
        files, debits: read or run for the invoices they post)."""
        self.assertFalse(self.accountant.has_group("rbm_recurring.rbm_recurring_group_user"))
        pressed, failures = self._press_every_button(self.accountant)
        self.assertFalse(failures, "\n".join(failures))
        self.assertTrue(any(p.startswith("account.move(") for p in pressed))


@tagged("post_install", "-at_install")
class TestPortalCustomerEveryPage(HttpCase):
    """The demo's portal customer opens every RBM portal page and submits
    every RBM portal form on their own records; the same addresses with
    another customer's records are refused, never an error page."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.maria = cls.env.ref("rbm_demo_br.user_portal_maria")
        cls.other = cls.env.ref("rbm_demo_br.partner_padaria")
        Contract = cls.env["rbm.contract"]
        cls.own_contract = Contract.search(
            [("partner_id", "=", cls.maria.partner_id.id), ("state", "=", "active")], limit=1
        )
        cls.other_contract = Contract.search(
            [("partner_id", "=", cls.other.id), ("state", "=", "active")], limit=1
        )
        Move = cls.env["account.move"]
        cls.own_invoice = Move.search(
            [
                ("partner_id", "=", cls.maria.partner_id.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("rbm_boleto_ids", "!=", False),
            ],
            limit=1,
        )
        cls.other_invoice = Move.search(
            [
                ("partner_id", "=", cls.other.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("rbm_boleto_ids", "!=", False),
            ],
            limit=1,
        )

    def _get(self, url):
        response = self.url_open(url, allow_redirects=False)
        location = urlsplit(response.headers.get("Location", "")).path
        if response.is_redirect and re.fullmatch(
            rf"/[a-z]{{2}}(_[A-Z]{{2}})?{re.escape(url)}", location
        ):
            # the same page in the customer's language (/pt/my...)
            self.lang_prefix = location[: -len(url)]
            response = self.url_open(location, allow_redirects=False)
        self.assertLess(response.status_code, 500, f"GET {url}: HTTP {response.status_code}")
        return response

    def _csrf(self, url):
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200, url)
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _post(self, url, data):
        # the address in the customer's language: a form posted elsewhere is
        # only redirected to it, not processed
        url = f"{self.lang_prefix}{url}"
        response = self.url_open(url, data=data, allow_redirects=False)
        self.assertLess(response.status_code, 500, f"POST {url}: HTTP {response.status_code}")
        return response

    def _pages(self, contract, invoice):
        return [
            f"/my/subscriptions/{contract.id}",
            f"/my/subscriptions/{contract.id}/change",
            f"/my/subscriptions/{contract.id}/cancel",
            f"/my/subscriptions/{contract.id}/usage",
            f"/my/subscriptions/{contract.id}/usage.csv",
            f"/my/subscriptions/{contract.id}/usage.pdf",
            f"/my/invoices/{invoice.id}",
            f"/my/invoices/{invoice.id}/boleto",
        ]

    lang_prefix = ""

    def _refused(self, response):
        """Refused: not found, forbidden, or sent back to the portal home or
        the login page, never the record's page."""
        if response.status_code in (403, 404):
            return True
        location = response.headers.get("Location", "")
        return response.status_code in (301, 302, 303) and re.search(
            r"/(my|web/login)(\?|$|#)", location
        )

    def test_every_page_and_form_on_own_and_others_records(self):
        self.assertTrue(self.own_contract and self.other_contract)
        self.assertTrue(self.own_invoice and self.other_invoice)
        self.authenticate("maria", "maria1234")
        for url in ["/my", "/my/subscriptions", "/my/invoices"] + self._pages(
            self.own_contract, self.own_invoice
        ):
            response = self._get(url)
            self.assertEqual(
                response.status_code, 200, f"{url}: {response.headers.get('Location')}"
            )
        for url in self._pages(self.other_contract, self.other_invoice):
            response = self._get(url)
            self.assertTrue(self._refused(response), f"{url}: {response.status_code}")

        # the forms, on another customer's contract: refused, nothing changes
        other_state = (self.other_contract.plan_id, self.other_contract.state)
        token = self._csrf(f"/my/subscriptions/{self.own_contract.id}/cancel")
        for path, data in (
            ("change", {"kind": "plan", "plan_id": self.own_contract.plan_id.id}),
            ("cancel", {"request_key": "x" * 32}),
            ("card", {"token_id": "1"}),
        ):
            response = self._post(
                f"/my/subscriptions/{self.other_contract.id}/{path}",
                {**data, "csrf_token": token},
            )
            self.assertTrue(self._refused(response), f"POST {path}: {response.status_code}")
        self.other_contract.invalidate_recordset()
        self.assertEqual((self.other_contract.plan_id, self.other_contract.state), other_state)

        # and on their own, filled in as the pages offer them: a page or a
        # redirect to the subscription, never an error page (rolled back)
        own = f"/my/subscriptions/{self.own_contract.id}"
        change_page = self.url_open(f"{own}/change").text
        cancel_page = self.url_open(f"{own}/cancel").text
        plan_ids = self._options(change_page, "new_plan_id")
        reason_ids = self._options(cancel_page, "reason_id")
        self.assertTrue(reason_ids, "the cancel page offers its reasons")
        forms = [
            ("card", {"token_id": "0"}),  # no saved card: sent back with a message
            ("cancel", {"request_key": "c" * 32, "reason_id": reason_ids[0]}),
        ]
        if plan_ids:
            forms.append(
                ("change", {"kind": "plan", "new_plan_id": plan_ids[0], "request_key": "p" * 32})
            )
        for path, data in forms:
            self.env.flush_all()
            self.env.cr.execute("SAVEPOINT rbm_portal_form")
            try:
                response = self._post(f"{own}/{path}", {**data, "csrf_token": token})
            finally:
                self.env.cr.execute("ROLLBACK TO SAVEPOINT rbm_portal_form")
                self.env.invalidate_all()
            self.assertIn(response.status_code, (200, 302, 303), path)
            if response.status_code != 200:
                # back on the subscription's page, with the form's outcome
                location = urlsplit(response.headers["Location"])
                self.assertIn(location.path, (own, f"{self.lang_prefix}{own}"), path)

    def _options(self, page, name):
        select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
        if not select:
            return []
        return [v for v in re.findall(r'<option[^>]*value="([^"]*)"', select.group(1)) if v]
