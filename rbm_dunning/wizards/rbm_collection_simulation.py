from datetime import timedelta

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..models.rbm_collection_run import NOTIFICATION_ACTIONS

OUTCOMES = [
    ("done", "Done"),
    ("skipped", "Skipped"),
    ("today", "Runs on the day"),
    ("planned", "Planned"),
]


class RbmCollectionSimulation(models.TransientModel):
    """What each step of a collection policy does for one invoice, on a day:
    the steps already logged as they were logged, the others as the daily
    run would decide them (the same start, superseding and conditions).
    Nothing is sent or written but this preview."""

    _name = "rbm.collection.simulation"
    _description = "Collection Policy Simulation"

    policy_id = fields.Many2one("rbm.collection.policy", required=True, readonly=True)
    company_id = fields.Many2one(related="policy_id.company_id")
    move_id = fields.Many2one(
        "account.move",
        string="Invoice",
        domain="[('company_id', '=', company_id), ('move_type', '=', 'out_invoice'), "
        "('state', '=', 'posted'), ('amount_residual', '>', 0)]",
        help="A posted customer invoice with an amount due.",
    )
    date = fields.Date(
        string="On",
        required=True,
        default=fields.Date.context_today,
        help="The day of the collection run to simulate.",
    )
    line_ids = fields.One2many(
        "rbm.collection.simulation.line", "simulation_id", string="Steps", readonly=True
    )

    def action_simulate(self):
        check_staff_access(self.policy_id, "read")
        self.ensure_one()
        if not self.move_id:
            raise UserError(
                _(
                    "Choose the invoice to simulate policy %(policy)s on.",
                    policy=self.policy_id.name,
                )
            )
        self.line_ids = [fields.Command.clear()] + [
            fields.Command.create(vals) for vals in self._prepare_simulation_lines()
        ]
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "views": [(False, "form")],
            "target": "new",
            "name": _("Simulate %(policy)s", policy=self.policy_id.name),
        }

    def _prepare_simulation_lines(self):
        """One row per (open installment, step), in the order of the days."""
        self.ensure_one()
        Log = self.env["rbm.collection.log"]
        policy, day_run = self.policy_id, self.date
        steps = policy.step_ids.filtered("active").sorted(lambda s: (s.day_offset, s.sequence))
        installments = self.move_id.line_ids.filtered(
            lambda line: (
                line.display_type == "payment_term"
                and line.account_id.account_type == "asset_receivable"
                and not line.reconciled
                and line.amount_residual > 0
            )
        )
        logged = {
            (log.step_id, log.move_line_id): log
            for log in Log.search(
                [("move_line_id", "in", installments.ids), ("step_id", "in", steps.ids)]
            )
        }
        rows = []
        for line in installments.sorted("date_maturity"):
            start = self.env["rbm.collection.run"]._get_collection_start(line, policy)
            # as the run: of the due steps not logged yet, only the latest
            # email (and SMS) goes out
            latest = {}
            for step in steps:
                day = line.date_maturity + timedelta(days=step.day_offset)
                if day <= day_run and (step, line) not in logged:
                    if step.action in NOTIFICATION_ACTIONS:
                        latest[step.action] = step
            for step in steps:
                day = line.date_maturity + timedelta(days=step.day_offset)
                outcome, message = self._simulate_step(step, line, day, start, latest, logged)
                rows.append(
                    {
                        "due_date": line.date_maturity,
                        "step_id": step.id,
                        "day": day,
                        "outcome": outcome,
                        "message": message,
                    }
                )
        return sorted(rows, key=lambda row: (row["day"], row["due_date"]))

    def _simulate_step(self, step, line, day, start, latest, logged):
        """(outcome, message) of ``step`` for installment ``line``."""
        log = logged.get((step, line))
        if log:
            state = dict(log._fields["state"]._description_selection(self.env))[log.state]
            return ("skipped" if log.state == "skipped" else "done"), _(
                "Logged on %(date)s: %(state)s. %(message)s",
                date=format_date(self.env, log.date),
                state=state,
                message=log.message or "",
            ).strip()
        if day > self.date:
            return "planned", _("On %(day)s, if still unpaid.", day=format_date(self.env, day))
        if step.policy_id.skip_past_steps and day < start:
            return "skipped", _(
                "The step's day (%(day)s) is before the policy started applying to this "
                "installment (%(start)s).",
                day=format_date(self.env, day),
                start=format_date(self.env, start),
            )
        if step.action in latest and latest[step.action] != step:
            return "skipped", _(
                "Superseded by the later step %(step)s.", step=latest[step.action].name
            )
        reason = self.env["rbm.collection.run"]._check_conditions(step, line)
        if reason:
            return "skipped", reason
        return "today", _(
            "The collection run of %(day)s does it.", day=format_date(self.env, self.date)
        )


class RbmCollectionSimulationLine(models.TransientModel):
    _name = "rbm.collection.simulation.line"
    _description = "Collection Policy Simulation Step"
    _order = "day, id"

    simulation_id = fields.Many2one("rbm.collection.simulation", required=True, ondelete="cascade")
    due_date = fields.Date(string="Installment Due")
    step_id = fields.Many2one("rbm.collection.step", string="Step")
    action = fields.Selection(related="step_id.action")
    day = fields.Date()
    outcome = fields.Selection(OUTCOMES)
    message = fields.Char()


class RbmCollectionPolicy(models.Model):
    _inherit = "rbm.collection.policy"

    def action_open_simulation(self):
        """Simulate the policy on an invoice (button)."""
        check_staff_access(self, "read")
        self.ensure_one()
        simulation = self.env["rbm.collection.simulation"].create({"policy_id": self.id})
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.collection.simulation",
            "res_id": simulation.id,
            "views": [(False, "form")],
            "target": "new",
            "name": _("Simulate %(policy)s", policy=self.name),
        }
