from datetime import date

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestMultiCompany(TransactionCase):
    """A second company's records stay out of reach of a subscription
    administrator allowed only the first company: not read, not written,
    neither directly nor through the one2many lines of a record they may edit.
    Every model of the RBM addons that belongs to a company (its own
    ``company_id``, or a parent's) has a multi-company record rule."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create(
            {"name": "RBM Company B", "currency_id": cls.company_a.currency_id.id}
        )
        cls.manager_a = (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "Manager of company A",
                    "login": "rbm_mc_manager_a",
                    "company_id": cls.company_a.id,
                    "company_ids": [Command.set(cls.company_a.ids)],
                    "groups_id": [
                        Command.set(
                            [
                                cls.env.ref("base.group_user").id,
                                cls.env.ref("rbm_recurring.rbm_recurring_group_manager").id,
                            ]
                        )
                    ],
                }
            )
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "RBM multi-company service",
                "type": "service",
                "list_price": 100.0,
                "rbm_billing_type": "recurring",
                "taxes_id": [Command.clear()],
            }
        )
        cls.partner = cls.env["res.partner"].create({"name": "Customer of both companies"})
        cls.world = {company: cls._make_world(company) for company in cls.company_a | cls.company_b}

    @classmethod
    def _make_world(cls, company):
        """A plan with its line, an active contract with its line, a price
        adjustment with its line (and usage price tiers when metering is
        installed), all in ``company``."""
        env = cls.env(context=dict(cls.env.context, allowed_company_ids=company.ids))
        plan = env["rbm.plan"].create(
            {
                "name": f"Plan of {company.name}",
                "company_id": company.id,
                "line_ids": [
                    Command.create({"product_id": cls.product.id, "quantity": 1, "price_unit": 100})
                ],
            }
        )
        contract = env["rbm.contract"].create(
            {
                "partner_id": cls.partner.id,
                "plan_id": plan.id,
                "company_id": company.id,
                "date_start": date(2026, 1, 1),
            }
        )
        contract.action_activate()
        adjustment = env["rbm.price.adjustment"].create(
            {
                "contract_id": contract.id,
                "anniversary": date(2027, 1, 1),
                "line_ids": [
                    Command.create(
                        {
                            "contract_line_id": contract.line_ids[:1].id,
                            "name": "Service",
                            "quantity": 1,
                            "old_price": 100,
                            "new_price": 104.5,
                        }
                    )
                ],
            }
        )
        world = {
            "plan": plan,
            "plan_line": plan.line_ids,
            "contract": contract,
            "contract_line": contract.line_ids,
            "adjustment": adjustment,
            "adjustment_line": adjustment.line_ids,
        }
        if "rbm.price.tier" in env:
            world["plan_tier"] = env["rbm.price.tier"].create(
                {"plan_line_id": plan.line_ids[:1].id, "from_qty": 0, "price": 1.0}
            )
            world["contract_tier"] = env["rbm.price.tier"].create(
                {"contract_line_id": contract.line_ids[:1].id, "from_qty": 0, "price": 1.0}
            )
        return world

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    def _rbm_model_names(self):
        """Models an installed RBM addon (rbm_*) defines (Odoo's own models
        they extend keep Odoo's rules)."""
        return {
            name
            for name, Model in self.env.registry.items()
            if (Model._original_module or "").startswith("rbm_")
        }

    def _company_paths(self):
        """``{model: [paths to its company]}`` of the stored RBM models that
        belong to a company: their own ``company_id``, or the company of a
        parent they are deleted with (``plan_line_id.company_id``)."""
        models = {
            name: self.env[name]
            for name in self._rbm_model_names()
            if not self.env[name]._abstract and not self.env[name]._transient
        }
        paths = {}
        for name, Model in models.items():
            field = Model._fields.get("company_id")
            if field and field.store:
                paths[name] = ["company_id"]
        changed = True
        while changed:
            changed = False
            for name, Model in models.items():
                if name in paths and paths[name] == ["company_id"]:
                    continue
                found = [
                    f"{field.name}.{parent_path}"
                    for field in Model._fields.values()
                    if field.type == "many2one"
                    and field.store
                    and field.comodel_name in paths
                    and (field.required or field.ondelete == "cascade")
                    for parent_path in paths[field.comodel_name][:1]
                ]
                if found and paths.get(name) != found:
                    paths[name] = found
                    changed = True
        return paths

    def _records_of(self, model_name, paths, company):
        domain = ["|"] * (len(paths) - 1) + [(path, "=", company.id) for path in paths]
        return self.env[model_name].with_context(active_test=False).search(domain)

    # ------------------------------------------------------------
    # TESTS
    # ------------------------------------------------------------

    def test_company_models_found(self):
        """The enumeration sees the models that belong to a company through a
        parent (an empty enumeration would make the next tests pass vacuously)."""
        paths = self._company_paths()
        self.assertEqual(paths["rbm.contract"], ["company_id"])
        self.assertEqual(paths["rbm.plan.line"], ["company_id"])
        self.assertEqual(paths["rbm.price.adjustment.line"], ["adjustment_id.company_id"])
        if "rbm.price.tier" in self.env:
            self.assertCountEqual(
                paths["rbm.price.tier"],
                ["plan_line_id.company_id", "contract_line_id.company_id", "filter_id.company_id"],
            )
        self.assertNotIn("rbm.price.index.value", paths)  # indices are shared (IPCA, IGP-M)

    def test_every_company_model_has_a_company_rule(self):
        missing = []
        for model_name in sorted(self._company_paths()):
            rules = self.env["ir.rule"].search(
                [("model_id.model", "=", model_name), ("groups", "=", False)]
            )
            if not any("company_ids" in (rule.domain_force or "") for rule in rules):
                missing.append(model_name)
        self.assertFalse(missing, "Models of a company without a multi-company record rule")

    def test_manager_of_a_sees_none_of_b(self):
        """Every record of company B, of every company model, is out of reach
        of the manager of A, who still sees A's."""
        checked = 0
        for model_name, paths in sorted(self._company_paths().items()):
            records_b = self._records_of(model_name, paths, self.company_b)
            records_a = self._records_of(model_name, paths, self.company_a)
            Model = self.env[model_name].with_user(self.manager_a).with_context(active_test=False)
            with self.subTest(model=model_name):
                if records_b and Model.has_access("read"):
                    checked += 1
                    self.assertFalse(Model.search([("id", "in", records_b.ids)]))
                    with self.assertRaises(AccessError):
                        Model.browse(records_b.ids).read(["display_name"])
                    visible_a = Model.search([("id", "in", records_a.ids)])
                    self.assertCountEqual(visible_a.ids, records_a.ids)
        # plans, plan lines, contracts, contract lines, MRR movements, price
        # adjustments and their lines at least
        self.assertGreaterEqual(checked, 7)

    def test_manager_of_a_cannot_read_b_lines_through_a(self):
        world_a, world_b = self.world[self.company_a], self.world[self.company_b]
        Plan = self.env["rbm.plan"].with_user(self.manager_a)
        PlanLine = self.env["rbm.plan.line"].with_user(self.manager_a)
        self.assertFalse(PlanLine.search([("plan_id", "=", world_b["plan"].id)]))
        self.assertEqual(Plan.browse(world_a["plan"].id).line_ids.ids, world_a["plan_line"].ids)
        AdjustmentLine = self.env["rbm.price.adjustment.line"].with_user(self.manager_a)
        self.assertFalse(AdjustmentLine.search([("adjustment_id", "=", world_b["adjustment"].id)]))
        with self.assertRaises(AccessError):
            AdjustmentLine.browse(world_b["adjustment_line"].id).read(["new_price"])
        # choosing company B in the company switcher is refused as well
        with self.assertRaises(AccessError):
            Plan.with_context(allowed_company_ids=self.company_b.ids).search([])

    def test_manager_of_a_cannot_write_b_lines_through_a(self):
        """Updating B's lines, or moving them into A's records, through A's
        one2many fields is refused and changes nothing."""
        world_a, world_b = self.world[self.company_a], self.world[self.company_b]
        attempts = [
            ("plan", "line_ids", "plan_line", {"price_unit": 1.0}),
            ("contract", "line_ids", "contract_line", {"price_unit": 1.0}),
            ("adjustment", "line_ids", "adjustment_line", {"new_price": 1.0}),
        ]
        if "rbm.price.tier" in self.env:
            attempts.append(("plan_line", "tier_ids", "plan_tier", {"price": 99.0}))
            attempts.append(("contract_line", "tier_ids", "contract_tier", {"price": 99.0}))
        for parent_key, field, line_key, vals in attempts:
            parent_a = world_a[parent_key].with_user(self.manager_a)
            line_b = world_b[line_key]
            before = line_b.read([*vals, parent_a._fields[field].inverse_name])
            for command in (Command.update(line_b.id, vals), Command.link(line_b.id)):
                with self.subTest(parent=parent_key, command=command[0]):
                    with self.assertRaises(AccessError):
                        with self.env.cr.savepoint():
                            parent_a.write({field: [command]})
                    line_b.invalidate_recordset()
                    self.assertEqual(
                        line_b.read([*vals, parent_a._fields[field].inverse_name]), before
                    )
        # the same user edits A's lines
        world_a["plan"].with_user(self.manager_a).write(
            {"line_ids": [Command.update(world_a["plan_line"].id, {"price_unit": 90.0})]}
        )
        self.assertEqual(world_a["plan_line"].price_unit, 90.0)

    def test_manager_of_a_cannot_write_b_records(self):
        world_b = self.world[self.company_b]
        for key, vals in (
            ("plan", {"name": "Hijacked"}),
            ("plan_line", {"price_unit": 1.0}),
            ("contract", {"reference": "Hijacked"}),
            ("contract_line", {"price_unit": 1.0}),
            ("adjustment_line", {"new_price": 1.0}),
        ):
            record_b = world_b[key]
            before = record_b.read(list(vals))
            with self.subTest(record=key):
                with self.assertRaises(AccessError):
                    with self.env.cr.savepoint():
                        record_b.with_user(self.manager_a).write(vals)
                record_b.invalidate_recordset()
                self.assertEqual(record_b.read(list(vals)), before)
