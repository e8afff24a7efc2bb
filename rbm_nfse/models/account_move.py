import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.rbm_recurring.tools import auto_commit_allowed, check_staff_access

from ..tools import STATES

_logger = logging.getLogger(__name__)


class AccountMove(models.Model):
    _inherit = "account.move"

    rbm_nfse_ids = fields.One2many(
        "rbm.nfse", "move_id", string="NFS-e History", readonly=True, copy=False
    )
    rbm_nfse_id = fields.Many2one("rbm.nfse", string="NFS-e", compute="_compute_rbm_nfse_id")
    rbm_nfse_state = fields.Selection(
        STATES, string="NFS-e State", compute="_compute_rbm_nfse_state", store=True, index=True
    )

    @api.depends("rbm_nfse_ids.state")
    def _compute_rbm_nfse_id(self):
        """The invoice's live NFS-e (at most one), else its last cancelled one."""
        for move in self:
            live = move.rbm_nfse_ids.filtered(lambda nfse: nfse.state != "cancelled")
            move.rbm_nfse_id = live[:1] or move.rbm_nfse_ids[:1]

    @api.depends("rbm_nfse_ids.state")
    def _compute_rbm_nfse_state(self):
        for move in self:
            move.rbm_nfse_state = move.rbm_nfse_id.state or False

    # ------------------------------------------------------------
    # HOOKS
    # ------------------------------------------------------------

    def _post(self, soft=True):
        """A posted invoice of a company (or plan) issuing "on post" is queued for the NFS-e
        run: never sent from inside the posting transaction."""
        posted = super()._post(soft=soft)
        posted._nfse_queue("post")
        return posted

    def _invoice_paid_hook(self):
        """Odoo's hook when invoices become paid (reconciliation, also "in payment"): cash
        basis companies (or plans) queue the NFS-e here; the run also catches up paid
        invoices it finds without one."""
        result = super()._invoice_paid_hook()
        self._nfse_queue("payment")
        return result

    def button_cancel(self):
        """A cancelled NFS-e's DANFSe is rendered again, with its watermark."""
        result = super().button_cancel()
        for move in self:
            nfse = move.rbm_nfse_id
            if nfse.state == "cancelled" and move._rbm_nfse_danfse_find(nfse):
                move._rbm_nfse_attach_danfse(nfse, refresh=True)
        return result

    def button_draft(self):
        """An invoice whose NFS-e was sent or issued is not reset: cancel the NFS-e first."""
        for move in self:
            if move.rbm_nfse_state in ("sent", "issued"):
                raise UserError(
                    _(
                        "The invoice %(invoice)s has an NFS-e at the Sefin Nacional: cancel it "
                        'with "Cancel NFS-e" first.',
                        invoice=move.display_name,
                    )
                )
        return super().button_draft()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_rbm_nfse_cancel(self):
        check_staff_access(self)
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Cancel NFS-e"),
            "res_model": "rbm.nfse.cancel.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_nfse_id": self.rbm_nfse_id.id},
        }

    def action_rbm_nfse_open(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.nfse",
            "view_mode": "form",
            "res_id": self.rbm_nfse_id.id,
        }

    def action_rbm_nfse_danfse(self):
        """Print the DANFSe of the invoice's NFS-e."""
        check_staff_access(self, "read")
        self.ensure_one()
        if not self.rbm_nfse_id.nfse_attachment_id:
            raise UserError(
                _(
                    "The invoice %(invoice)s has no issued NFS-e: its DANFSe is printed once "
                    "the Sefin Nacional issues it.",
                    invoice=self.display_name,
                )
            )
        return self.env.ref("rbm_nfse.action_report_danfse").report_action(
            self.rbm_nfse_id, config=False
        )

    # ------------------------------------------------------------
    # DANFSe AND XML (attachments, e-mail, portal)
    # ------------------------------------------------------------

    def _rbm_nfse_danfse_name(self, nfse):
        return f"DANFSe{nfse.access_key}.pdf"

    def _rbm_nfse_danfse_find(self, nfse):
        self.ensure_one()
        return (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "account.move"),
                    ("res_id", "=", self.id),
                    ("name", "=", self._rbm_nfse_danfse_name(nfse)),
                ],
                limit=1,
            )
        )

    def _rbm_nfse_attach_danfse(self, nfse, refresh=False):
        """The DANFSe PDF of ``nfse`` attached to this invoice beside its XML: rendered once
        (again with ``refresh``, e.g. with the cancellation watermark), found afterwards.
        The NFS-e row is locked while it is rendered, so two requests never attach two.
        A rendering failure is logged and returns no attachment: the issue is never undone,
        the DANFSe is rendered again by the next run or the next request."""
        self.ensure_one()
        attachment = self._rbm_nfse_danfse_find(nfse)
        if attachment and not refresh:
            return attachment
        self.env.cr.execute("SELECT id FROM rbm_nfse WHERE id = %s FOR NO KEY UPDATE", [nfse.id])
        attachment = self._rbm_nfse_danfse_find(nfse)
        if attachment and not refresh:
            return attachment
        try:
            pdf, _report_type = (
                self.env["ir.actions.report"]
                .sudo()
                .with_company(self.company_id)
                .with_context(force_report_rendering=True)
                ._render_qweb_pdf("rbm_nfse.action_report_danfse", nfse.ids)
            )
        except Exception:
            _logger.exception("DANFSe of NFS-e %s not rendered", nfse.access_key)
            return attachment
        if attachment:
            attachment.raw = pdf
            return attachment
        return (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": self._rbm_nfse_danfse_name(nfse),
                    "raw": pdf,
                    "mimetype": "application/pdf",
                    "res_model": "account.move",
                    "res_id": self.id,
                }
            )
        )

    @api.model
    def _cron_rbm_nfse_danfse(self, batch_size=50):
        """Attach the DANFSe of the NFS-e issued (or cancelled) without one yet, triggered by
        each issue and each replacement (wkhtmltopdf stays out of the issuing run and of its
        row locks); NFS-e rows locked and skipped when another worker holds them;
        re-triggered while work remains."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT n.id
              FROM rbm_nfse n
             WHERE n.state IN ('issued', 'cancelled')
               AND n.access_key IS NOT NULL
               AND n.nfse_attachment_id IS NOT NULL
               AND NOT EXISTS (
                    SELECT 1
                      FROM ir_attachment a
                     WHERE a.res_model = 'account.move'
                       AND a.res_id = n.move_id
                       AND a.name = 'DANFSe' || n.access_key || '.pdf'
                   )
             ORDER BY n.id
             LIMIT %s
               FOR NO KEY UPDATE OF n SKIP LOCKED
            """,
            [batch_size + 1],
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        done = 0
        for nfse in self.env["rbm.nfse"].sudo().browse(ids[:batch_size]):
            if nfse.move_id._rbm_nfse_attach_danfse(nfse):
                done += 1
            if auto_commit_allowed():
                self.env.cr.commit()  # pylint: disable=invalid-commit
        self.env["ir.cron"]._notify_progress(done=done, remaining=len(ids) - done)
        if len(ids) > batch_size:
            self.env.ref("rbm_nfse.ir_cron_rbm_nfse_danfse")._trigger()
        return done

    def _rbm_nfse_documents(self, render=True):
        """The DANFSe PDF and the NFS-e XML of this invoice's issued NFS-e (none when it
        is not issued); the DANFSe rendered now when the run has not attached it yet, unless
        ``render`` is False (read-only callers)."""
        self.ensure_one()
        nfse = self.rbm_nfse_id.sudo()
        if nfse.state != "issued" or not nfse.nfse_attachment_id:
            return self.env["ir.attachment"]
        danfse = self._rbm_nfse_attach_danfse(nfse) if render else self._rbm_nfse_danfse_find(nfse)
        return danfse | nfse.nfse_attachment_id

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    def _nfse_moment(self):
        """When this invoice's NFS-e is issued, and the days before the due date: its
        contract's plan when set there, else its company."""
        self.ensure_one()
        plan = self.rbm_contract_id.plan_id
        if plan.nfse_issue_moment:
            return plan.nfse_issue_moment, plan.nfse_days_before_due
        return self.company_id.nfse_issue_moment, self.company_id.nfse_days_before_due

    def _nfse_eligible(self):
        return self.filtered(
            lambda move: (
                move.move_type == "out_invoice"
                and move.state == "posted"
                and move.company_id.nfse_enabled
                and (
                    not move.company_id.nfse_start_date
                    or (move.invoice_date or move.date) >= move.company_id.nfse_start_date
                )
            )
        )

    def _nfse_queue(self, moment, today=None):
        """Queue the NFS-e of the invoices issued at ``moment`` (to issue; a rejected or
        pending one is queued again) and wake the run up."""
        moves = self._nfse_eligible().filtered(lambda move: move._nfse_moment()[0] == moment)
        if moment == "before_due":
            moves = moves.filtered(
                lambda move: (
                    (move.invoice_date_due or move.invoice_date)
                    <= fields.Date.add(today, days=move._nfse_moment()[1])
                )
            )
        if not moves:
            return moves
        Nfse = self.env["rbm.nfse"].sudo()
        new = moves.filtered(
            lambda move: not move.rbm_nfse_id or move.rbm_nfse_state == "cancelled"
        )
        Nfse.create([{"move_id": move.id} for move in new])
        (moves - new).rbm_nfse_id.filtered(lambda nfse: nfse.state == "rejected").sudo().write(
            {"state": "to_issue", "next_retry": False}
        )
        self.env.ref("rbm_nfse.ir_cron_rbm_nfse_issue")._trigger()
        return moves

    @api.model
    def _nfse_queue_due(self, today):
        """The run's catch-up: invoices due within their "days before due date", and paid
        invoices of cash-basis companies or plans, that have no NFS-e yet."""
        domain = [
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("company_id.nfse_enabled", "=", True),
            ("rbm_nfse_state", "=", False),
        ]
        due = self.search(domain + [("payment_state", "not in", ("paid", "in_payment"))])
        self.search(domain + [("payment_state", "in", ("paid", "in_payment"))])._nfse_queue(
            "payment"
        )
        due._nfse_queue("before_due", today=today)
