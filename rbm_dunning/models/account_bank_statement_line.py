import json
import logging
import re
from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import format_amount, format_date, html2plaintext, sql

from odoo.addons.rbm_recurring.engine.privacy import mask_personal_data
from odoo.addons.rbm_recurring.tools import check_staff_access

from .rbm_pix_receipt import END_TO_END_RE

_logger = logging.getLogger(__name__)

# words of a statement text that may be a txid (static codes carry up to 25
# characters, the Pix API up to 35; shorter words are too common to try)
_WORD_RE = re.compile(r"[A-Za-z0-9]{6,35}")
_CRON_BATCH = 500
_RETRY_DAYS = 30


class AccountBankStatementLine(models.Model):
    _inherit = "account.bank.statement.line"

    rbm_pix_state = fields.Selection(
        [
            ("matched", "Reconciled"),
            ("amount_mismatch", "Amount Differs"),
            ("already_paid", "Already Paid"),
            ("unknown", "Unknown Pix"),
        ],
        string="Pix Matching",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    rbm_pix_txid = fields.Char(string="Pix Transaction ID", readonly=True, copy=False)
    rbm_pix_end_to_end_id = fields.Char(string="Pix End-to-End ID", readonly=True, copy=False)
    rbm_pix_move_id = fields.Many2one(
        "account.move", string="Pix Invoice", readonly=True, copy=False, index="btree_not_null"
    )
    rbm_pix_message = fields.Char(string="Pix Matching Note", readonly=True, copy=False)

    def init(self):
        super().init()
        # a Pix pays once: one reconciled statement line per txid and per end-to-end id
        if not sql.index_exists(self.env.cr, "account_bank_statement_line_rbm_pix_txid_uniq"):
            self.env.cr.execute(
                """
                CREATE UNIQUE INDEX account_bank_statement_line_rbm_pix_txid_uniq
                    ON account_bank_statement_line (company_id, rbm_pix_txid)
                 WHERE rbm_pix_state = 'matched' AND rbm_pix_txid IS NOT NULL
                """
            )
        if not sql.index_exists(self.env.cr, "account_bank_statement_line_rbm_pix_e2e_uniq"):
            self.env.cr.execute(
                """
                CREATE UNIQUE INDEX account_bank_statement_line_rbm_pix_e2e_uniq
                    ON account_bank_statement_line (company_id, rbm_pix_end_to_end_id)
                 WHERE rbm_pix_state = 'matched' AND rbm_pix_end_to_end_id IS NOT NULL
                """
            )

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines._rbm_match_pix()
        return lines

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_rbm_match_pix(self):
        """Match these lines again (after a txid or end-to-end id became
        known, or an invoice changed)."""
        check_staff_access(self, "write")
        self._rbm_match_pix(retry=True)

    @api.model
    def _cron_rbm_match_pix(self):
        """Match the recent incoming lines not matched yet, in batches."""
        domain = [
            ("is_reconciled", "=", False),
            ("amount", ">", 0),
            ("rbm_pix_state", "in", (False, "unknown", "amount_mismatch")),
            ("create_date", ">=", fields.Datetime.now() - timedelta(days=_RETRY_DAYS)),
            ("id", ">", int(self.env["ir.config_parameter"].sudo().get_param(_CURSOR_KEY, 0))),
        ]
        lines = self.search(domain, order="id", limit=_CRON_BATCH)
        remaining = self.search_count(domain) - len(lines)
        lines._rbm_match_pix(retry=True)
        # next run starts after the last line seen; back to the start when done
        cursor = lines[-1:].id if remaining else 0
        self.env["ir.config_parameter"].sudo().set_param(_CURSOR_KEY, cursor)
        self.env["ir.cron"]._notify_progress(done=len(lines), remaining=remaining)
        if remaining:
            self.env.ref("rbm_dunning.ir_cron_rbm_match_pix")._trigger()

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    def _rbm_pix_text(self):
        """Everything of the line that may carry a txid or end-to-end id."""
        self.ensure_one()
        parts = [self.payment_ref, self.ref]
        if self.narration:
            parts.append(html2plaintext(self.narration))
        if self.transaction_details:
            parts.append(json.dumps(self.transaction_details))
        if "unique_import_id" in self._fields:
            parts.append(self.unique_import_id)
        return " ".join(part for part in parts if part)

    @api.model
    def _rbm_retry_pix(self, end_to_end_ids):
        """Match again the open lines that mention these end-to-end ids."""
        if not end_to_end_ids:
            return
        domain = [
            ("is_reconciled", "=", False),
            ("amount", ">", 0),
            ("rbm_pix_state", "!=", "matched"),
        ]
        mentions = []
        for e2e in end_to_end_ids:
            for name in ("payment_ref", "ref", "narration"):
                mentions.append([(name, "ilike", e2e)])
        lines = self.search(domain + expression.OR(mentions))
        lines._rbm_match_pix(retry=True)

    def _rbm_match_pix(self, retry=False):
        """Reconcile incoming lines that carry a known Pix txid (or an
        end-to-end id mapped to one) with the invoice's open receivable
        lines. A different amount, an invoice already paid or an unknown
        Pix is explained on the line (and on the invoice), never
        reconciled. Batched: one search per kind of document."""
        lines = self.filtered(
            lambda line: (
                line.amount > 0
                and not line.is_reconciled
                and line.rbm_pix_state != "matched"
                and (retry or not line.rbm_pix_state)
            )
        )
        if not lines:
            return
        found = {}
        all_e2e, all_words = set(), set()
        for line in lines:
            text = line._rbm_pix_text()
            e2e_ids = END_TO_END_RE.findall(text)
            words = [w for w in _WORD_RE.findall(text) if w not in e2e_ids]
            found[line] = (text, e2e_ids, words)
            all_e2e.update(e2e_ids)
            all_words.update(words)
        companies = lines.company_id
        receipts = (
            self.env["rbm.pix.receipt"]
            .sudo()
            .search([("company_id", "in", companies.ids), ("end_to_end_id", "in", list(all_e2e))])
        )
        txid_of = {(r.company_id, r.end_to_end_id): r.txid for r in receipts}
        txids = all_words | set(receipts.mapped("txid"))
        moves = (
            self.env["account.move"]
            .sudo()
            .search([("company_id", "in", companies.ids), ("rbm_pix_txid", "in", list(txids))])
        )
        boletos = (
            self.env["rbm.boleto"]
            .sudo()
            .search([("company_id", "in", companies.ids), ("pix_txid", "in", list(txids))])
        )
        targets = {(m.company_id, m.rbm_pix_txid): (m, m) for m in moves}
        for boleto in boletos:
            targets.setdefault((boleto.company_id, boleto.pix_txid), (boleto.move_id, boleto))
        for line in lines:
            text, e2e_ids, words = found[line]
            candidates = [(txid_of.get((line.company_id, e2e)), e2e) for e2e in e2e_ids]
            candidates += [(word, None) for word in words]
            match = next(
                (
                    (txid, e2e)
                    for txid, e2e in candidates
                    if txid and (line.company_id, txid) in targets
                ),
                None,
            )
            if match:
                txid, e2e = match
                move, source = targets[(line.company_id, txid)]
                try:
                    with self.env.cr.savepoint():
                        line._rbm_apply_pix(move, source, txid, e2e)
                except (UserError, ValidationError, IntegrityError) as error:
                    # never block the statement: the line stays to reconcile by hand
                    _logger.warning(
                        "Pix matching of statement line %s failed: %s",
                        line.id,
                        mask_personal_data(error),
                    )
                    line.write(
                        {
                            "rbm_pix_state": "unknown",
                            "rbm_pix_message": _(
                                "Transaction ID %(txid)s found but not reconciled: %(error)s",
                                txid=txid,
                                error=getattr(error, "args", [error])[0],
                            ),
                        }
                    )
            elif e2e_ids or "pix" in text.lower():
                line.write(
                    {
                        "rbm_pix_state": "unknown",
                        "rbm_pix_end_to_end_id": e2e_ids[0] if e2e_ids else False,
                        "rbm_pix_message": _(
                            "No invoice or boleto has the Pix transaction ID of this line "
                            "(end-to-end IDs without a known transaction ID: %(ids)s).",
                            ids=", ".join(e2e_ids) or "-",
                        ),
                    }
                )

    def _rbm_apply_pix(self, move, source, txid, e2e):
        """Reconcile this line with ``move``'s open receivable lines (all of
        them for an invoice's own Pix, the boleto's installment for a
        boleto's), or explain why not."""
        self.ensure_one()
        if source._name == "rbm.boleto":
            receivables = source.move_line_id
        else:
            receivables = move.line_ids.filtered(
                lambda aml: (
                    aml.display_type == "payment_term"
                    and aml.account_id.account_type == "asset_receivable"
                )
            )
        receivables = receivables.filtered(lambda aml: not aml.reconciled)
        currency = self.company_id.currency_id
        due = sum(receivables.mapped("amount_residual"))
        lang = move.partner_id.lang or self.env.lang
        values = {
            "rbm_pix_txid": txid,
            "rbm_pix_end_to_end_id": e2e or False,
            "rbm_pix_move_id": move.id,
        }
        received = format_amount(self.env, self.amount, currency, lang)
        reference = _(
            "Pix of %(amount)s received on %(date)s (statement line %(line)s, transaction ID "
            "%(txid)s)",
            amount=received,
            date=format_date(self.env, self.date, lang_code=lang),
            line=self.display_name,
            txid=txid,
        )
        if move.state != "posted" or not receivables:
            message = _("%(pix)s: the invoice is already paid, not reconciled.", pix=reference)
            self.write({**values, "rbm_pix_state": "already_paid", "rbm_pix_message": message})
            move.message_post(body=message)
            return
        if self.foreign_currency_id or currency.compare_amounts(self.amount, due) != 0:
            message = _(
                "%(pix)s: %(due)s is due, the amounts differ: not reconciled automatically.",
                pix=reference,
                due=format_amount(self.env, due, currency, lang),
            )
            if self.rbm_pix_state != "amount_mismatch" or self.rbm_pix_message != message:
                move.message_post(body=message)
            self.write({**values, "rbm_pix_state": "amount_mismatch", "rbm_pix_message": message})
            return
        partner = move.commercial_partner_id
        _liquidity, suspense, other = self._seek_for_lines()
        if len(suspense) != 1 or other:
            message = _("%(pix)s: the line was already edited, not reconciled.", pix=reference)
            self.write({**values, "rbm_pix_state": "amount_mismatch", "rbm_pix_message": message})
            return
        if self.partner_id != partner:
            self.partner_id = partner
        suspense.write({"account_id": receivables.account_id.id, "partner_id": partner.id})
        # a boleto's own Pix code: the boleto is settled below (paid, and a
        # write-off for the bank), not written off as paid by other means
        settling = source._name == "rbm.boleto"
        (suspense | receivables).with_context(rbm_cnab_settling=settling).reconcile()
        message = _("%(pix)s: reconciled with %(invoice)s.", pix=reference, invoice=move.name)
        self.write({**values, "rbm_pix_state": "matched", "rbm_pix_message": message})
        self.flush_recordset()
        if e2e:
            self.env["rbm.pix.receipt"].sudo().search(
                [("company_id", "=", self.company_id.id), ("end_to_end_id", "=", e2e)]
            ).statement_line_id = self
        move.message_post(body=message)
        if source._name == "rbm.boleto":
            source._rbm_mark_paid_by_pix(self)


_CURSOR_KEY = "rbm_dunning.pix_match_cursor"
