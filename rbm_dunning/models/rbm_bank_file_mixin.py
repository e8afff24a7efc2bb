import base64
import hashlib

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_datetime, sql

from odoo.addons.rbm_recurring.tools import check_staff_access


class RbmBankFileMixin(models.AbstractModel):
    """What a file exchanged with the bank is, whatever its layout: the
    remittances generated here (numbered by a sequence per collection account)
    and the returns imported, each return once (by the hash of its bytes).

    Each kind of file (``rbm.cnab.file`` for boletos, ``rbm.debit.file`` for
    direct debits) generates and reads its own files with the same methods:
    ``_generate_remittance(account, …)``, ``_parse_return(account, content,
    filename)``, ``_plan_return(account, content, filename)`` and
    ``_import_return(account, content, filename)``; the collection account
    only holds the settings, the counters and the locks."""

    _name = "rbm.bank.file.mixin"
    _description = "Bank File"
    _order = "file_date desc, id desc"
    _check_company_auto = True
    # the model of the file's lines (an ``rbm.bank.file.line.mixin``)
    _line_model = None
    # start of the name of a return imported without a file name
    _return_filename_prefix = "RET"

    name = fields.Char(compute="_compute_name", store=True)
    collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        related="collection_account_id.company_id", store=True, precompute=True, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    direction = fields.Selection(
        [("remittance", "Remittance"), ("return", "Return")], required=True, readonly=True
    )
    nsa = fields.Integer(string="File Sequence (NSA)", readonly=True)
    file_date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    filename = fields.Char(readonly=True)
    datas = fields.Binary(string="File", attachment=True, readonly=True)
    file_hash = fields.Char(readonly=True, index=True)
    line_count = fields.Integer(string="Line Count", readonly=True)
    duplicate_count = fields.Integer(
        readonly=True, help="Lines skipped because an earlier file already brought them."
    )

    def init(self):
        super().init()
        if self._abstract:
            return
        # one remittance per sequence number and collection account
        index = f"{self._table}_remittance_nsa_uniq"
        if not sql.index_exists(self.env.cr, index):
            self.env.cr.execute(
                SQL(
                    "CREATE UNIQUE INDEX %s ON %s (collection_account_id, nsa) "
                    "WHERE direction = 'remittance'",
                    SQL.identifier(index),
                    SQL.identifier(self._table),
                )
            )

    def _compute_name(self):
        raise NotImplementedError  # each kind of file names itself

    def action_download(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self._name}/{self.id}/datas/{self.filename}?download=true",
            "target": "self",
        }

    # ------------------------------------------------------------
    # FILES
    # ------------------------------------------------------------

    @api.model
    def _hash(self, data):
        return hashlib.sha256(data).hexdigest()

    @api.model
    def _prepare_file_vals(self, account, direction, data, nsa, filename, line_count):
        """Values of a file of ``account`` with these bytes."""
        return {
            "collection_account_id": account.id,
            "direction": direction,
            "nsa": nsa,
            "file_date": fields.Datetime.now(),
            "filename": filename,
            "datas": base64.b64encode(data),
            "file_hash": self._hash(data),
            "line_count": line_count,
        }

    @api.model
    def _format_file_errors(self, errors):
        """One message listing the malformed lines (number and field) of a
        file read by an engine."""
        shown = errors[:20]
        lines = [self.env._("The file was not imported, nothing was changed:")]
        for error in shown:
            lines.append(
                self.env._(
                    "Line %(line)s: %(field)s: %(message)s",
                    line=error.line_number or "-",
                    field=error.field,
                    message=error.message,
                )
            )
        if len(errors) > len(shown):
            lines.append(self.env._("… and %(count)s more errors.", count=len(errors) - len(shown)))
        return "\n".join(lines)

    # ------------------------------------------------------------
    # RETURN FILES
    # ------------------------------------------------------------

    @api.model
    def _find_imported(self, account, data):
        """The return file of ``account`` with these very bytes, if any."""
        return self.search(
            [
                ("collection_account_id", "=", account.id),
                ("direction", "=", "return"),
                ("file_hash", "=", self._hash(data)),
            ],
            limit=1,
        )

    @api.model
    def _check_not_imported(self, account, data):
        """Refuse a return file ``account`` already imported (the very same bytes)."""
        imported = self._find_imported(account, data)
        if imported:
            raise UserError(
                _(
                    "This file was already imported on %(date)s (%(file)s): nothing to do.",
                    date=format_datetime(self.env, imported.file_date),
                    file=imported.display_name,
                )
            )

    @api.model
    def _parse_return(self, account, content, filename=False):
        """The return file read by the engine; UserError (nothing written)
        for a file that is not a return of ``account``, listing every
        malformed line with its number and field."""
        raise NotImplementedError

    @api.model
    def _plan_return(self, account, content, filename=False):
        """Read a return file and decide what each line does, without
        writing. Returns ``(header values, plan)``: one dict per line with the
        line's ``vals`` (its ``dedup_key`` among them), ``status`` (``new``,
        ``duplicate`` or ``problem``) and ``message``."""
        raise NotImplementedError

    @api.model
    def _lock_for_return(self, account):
        """Lock ``account`` for the import of a return of this kind."""
        raise NotImplementedError

    @api.model
    def _prepare_return_vals(self, account, header, plan):
        """Values of the return file of its own kind (layout…)."""
        return {}

    def _apply_return(self, plan):
        """Apply the lines of ``plan`` that are not duplicates and log them
        on this return file."""
        raise NotImplementedError

    @api.model
    def _import_return(self, account, content, filename=False):
        """Import a return file in one go. Raises (nothing written) for a
        malformed file or a file already imported; lines an earlier file
        already applied are skipped (see ``_mark_duplicates``). Returns the
        file."""
        account.ensure_one()
        data = content if isinstance(content, bytes) else content.encode("latin-1")
        self._lock_for_return(account)
        header, plan = self._plan_return(account, data, filename)
        self._check_not_imported(account, data)
        bank_file = self.create(
            {
                **self._prepare_file_vals(
                    account,
                    "return",
                    data,
                    header.get("file_sequence") or 0,
                    filename
                    or f"{self._return_filename_prefix}{account.bank_code}_{self._hash(data)[:8]}",
                    len(data.splitlines()),
                ),
                "duplicate_count": sum(1 for entry in plan if entry["status"] == "duplicate"),
                **self._prepare_return_vals(account, header, plan),
            }
        )
        bank_file._apply_return(plan)
        return bank_file

    @api.model
    def _mark_duplicates(self, account, plan):
        """The duplicate rule of every return line: a line is a duplicate
        when a line with the same ``dedup_key`` was applied by an earlier file
        of ``account``, or comes earlier in the same file. A line that could
        not be applied (a problem) is no duplicate: when it comes again it is
        tried again."""
        keys = [entry["vals"]["dedup_key"] for entry in plan]
        applied = self.env[self._line_model]._get_applied_keys(account, keys)
        seen = set()
        for entry in plan:
            key = entry["vals"]["dedup_key"]
            entry.setdefault("status", "new")
            entry.setdefault("message", "")
            if key in applied or key in seen:
                entry.update(status="duplicate", message=self.env._("Already imported."))
            seen.add(key)
        return plan

    # ------------------------------------------------------------
    # PAYMENTS
    # ------------------------------------------------------------

    @api.model
    def _prepare_installment_payment_vals(
        self, account, invoice, installment, partner, amount, date, memo
    ):
        """An inbound payment of ``amount`` into ``account``'s journal, for
        ``invoice`` and, when known, its ``installment``'s account."""
        vals = {
            "payment_type": "inbound",
            "partner_type": "customer",
            "partner_id": partner.id,
            "amount": amount,
            "currency_id": account.currency_id.id,
            "date": date,
            "journal_id": account.journal_id.id,
            "company_id": account.company_id.id,
            "memo": memo,
            "invoice_ids": [Command.set(invoice.ids)],
        }
        if installment:
            vals["destination_account_id"] = installment.account_id.id
        return vals

    @api.model
    def _pay_installments(self, installments, vals_list, settling=False):
        """Pay each installment and reconcile it if it is still open: one
        posted payment per ``vals_list`` item (the same order as
        ``installments``, an installment may come twice), reconciled with its
        installment when that one is posted and not reconciled; otherwise the
        payment stays open for the customer. ``settling``: the caller settles
        the installment's boleto itself (its state), the reconciliation does
        not write it off. Returns ``[(payment, reconciled)]``."""
        if not vals_list:
            return []
        payments = self.env["account.payment"].create(vals_list)
        payments.action_post()
        plan, result = [], []
        for installment, payment in zip(installments, payments, strict=True):
            still_open = (
                installment and not installment.reconciled and installment.parent_state == "posted"
            )
            if still_open:
                counterpart = payment.move_id.line_ids.filtered(
                    lambda line, account=installment.account_id: (
                        line.account_id == account and not line.reconciled
                    )
                )
                plan.append(counterpart + installment)
            result.append((payment, bool(still_open)))
        if plan:
            self.env["account.move.line"].with_context(rbm_cnab_settling=settling)._reconcile_plan(
                plan
            )
        return result


class RbmBankFileLineMixin(models.AbstractModel):
    """What the lines of the bank files share: the one rule that says a
    return line was already applied. Each return line has a ``dedup_key``
    (built by ``_make_dedup_key`` from what identifies the bank's answer) and
    a ``status``: a line applied (it changed a boleto, a debit or a mandate,
    or booked money) is applied once per collection account, which a unique
    index guards; a line that could not be applied (a problem) changed
    nothing and is tried again when a later file brings it."""

    _name = "rbm.bank.file.line.mixin"
    _description = "Bank File Line"

    status = fields.Selection(
        [("applied", "Applied"), ("problem", "Not Applied")], default="applied", required=True
    )
    message = fields.Char(help="What the import did, or why it could not.")
    dedup_key = fields.Char(index=True, help="What identifies the bank's answer on a return line.")

    def init(self):
        super().init()
        if self._abstract:
            return
        index = f"{self._table}_applied_uniq"
        if not sql.index_exists(self.env.cr, index):
            self.env.cr.execute(
                SQL(
                    "CREATE UNIQUE INDEX %s ON %s (collection_account_id, dedup_key) "
                    "WHERE direction = 'return' AND status = 'applied'",
                    SQL.identifier(index),
                    SQL.identifier(self._table),
                )
            )

    @api.model
    def _make_dedup_key(self, *parts):
        """The key of a return line: its parts joined by ``|`` (empty for
        none)."""
        return "|".join("" if part is None or part is False else str(part) for part in parts)

    @api.model
    def _get_applied_keys(self, account, keys):
        """The ``keys`` of return lines of ``account`` already applied."""
        return set(
            self.search(
                [
                    ("collection_account_id", "=", account.id),
                    ("direction", "=", "return"),
                    ("status", "=", "applied"),
                    ("dedup_key", "in", list(set(keys))),
                ]
            ).mapped("dedup_key")
        )
