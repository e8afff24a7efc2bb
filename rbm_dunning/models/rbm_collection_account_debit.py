import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import cnab150
from ..engine.fixedwidth import CnabError

# answers to a cancellation the company asked for, not refusals of a debit
CANCELLATION_ANSWERS = ("97", "98", "99")


class RbmCollectionAccount(models.Model):
    """Direct debit (débito automático, CNAB 150) on a collection account."""

    _inherit = "rbm.collection.account"

    debit_agreement = fields.Char(
        string="Direct Debit Agreement",
        tracking=True,
        help="Convênio de débito automático given by the bank (up to 20 characters), written "
        "in the CNAB 150 headers. Leave empty when the account does no direct debit.",
    )
    debit_layout_version = fields.Selection(
        [
            ("04", "04 (FEBRABAN 2003)"),
            ("05", "05 (FEBRABAN 2008)"),
            ("08", "08 (FEBRABAN 2020)"),
        ],
        string="CNAB 150 Layout Version",
        default=cnab150.LAYOUT_VERSION,
        required=True,
        tracking=True,
        help="Version of the FEBRABAN direct debit layout the bank's manual for this agreement "
        "names. Remittances are written in it; a return whose header declares another version "
        "is refused. From 05 on the customer's CPF/CNPJ goes with each debit.",
    )
    debit_account_fill = fields.Selection(
        [
            ("spaces", "Left-aligned, blanks after (FEBRABAN)"),
            ("zeros", "Right-aligned, zeros before"),
        ],
        string="Account Field Filling",
        default="spaces",
        required=True,
        tracking=True,
        help="How the customer's account (identificação do cliente no banco) fills its field in "
        "the remittance: as the FEBRABAN manual says, or zero-filled when the bank's manual "
        "asks for it.",
    )
    next_debit_nsa = fields.Integer(
        string="Next Direct Debit File Sequence",
        default=1,
        copy=False,
        help="NSA of the next CNAB 150 remittance (its own sequence, separate from the "
        "boleto remittances).",
    )
    debit_horizon_days = fields.Integer(
        string="Debit Horizon (days)",
        default=10,
        help="A remittance asks for the installments due within this many days.",
    )
    debit_retry_count = fields.Integer(
        string="Re-presentations",
        default=0,
        help="How many times an installment the bank refused with one of the codes below is "
        "sent again (0: a refused debit is left to the collection rules).",
    )
    debit_retry_days = fields.Integer(
        string="Days Between Attempts",
        default=3,
        help="A refused installment is sent again this many days after the day the bank tried it.",
    )
    debit_retry_codes = fields.Char(
        string="Codes Re-presented",
        default="01,05",
        help="CNAB 150 return codes after which the installment is sent again, separated by "
        "commas (01 insufficient funds, 05 over the account's limit). Other refusals are final.",
    )
    last_debit_return_date = fields.Datetime(readonly=True, copy=False)
    debit_mandate_ids = fields.One2many(
        "rbm.debit.mandate", "collection_account_id", string="Mandates"
    )
    debit_mandate_count = fields.Integer(compute="_compute_debit_counts")
    debit_file_count = fields.Integer(compute="_compute_debit_counts")

    _sql_constraints = [
        (
            "next_debit_nsa_positive",
            "CHECK(next_debit_nsa > 0)",
            "The next direct debit file sequence must be positive.",
        ),
        (
            "debit_horizon_days_range",
            "CHECK(debit_horizon_days BETWEEN 0 AND 60)",
            "The debit horizon is between 0 and 60 days.",
        ),
        (
            "debit_retry_count_range",
            "CHECK(debit_retry_count BETWEEN 0 AND 5)",
            "An installment is re-presented at most 5 times.",
        ),
        (
            "debit_retry_days_range",
            "CHECK(debit_retry_days BETWEEN 1 AND 30)",
            "The days between two attempts of a debit are between 1 and 30.",
        ),
    ]

    @api.constrains("debit_retry_codes", "debit_layout_version")
    def _check_debit_retry_codes(self):
        for account in self:
            for code in account._get_debit_retry_codes():
                answer = cnab150.return_code(code, account.debit_layout_version)
                if answer.debited or code in CANCELLATION_ANSWERS:
                    raise ValidationError(
                        _(
                            "Collection account %(account)s, Codes Re-presented: %(code)s is not "
                            "a refusal (%(description)s).",
                            account=account.display_name,
                            code=code,
                            description=answer.description,
                        )
                    )

    @api.constrains("debit_layout_version")
    def _check_debit_mandate_accounts(self):
        """Going back from 08 to an older version: every live mandate's
        account must fit the older version's 14 positions."""
        mandates = self.env["rbm.debit.mandate"].search(
            [("collection_account_id", "in", self.ids), ("state", "!=", "cancelled")]
        )
        mandates._check_bank_details()

    def _get_debit_retry_codes(self):
        """The return codes after which an installment is sent again; a
        ValidationError naming the account for a code that is not two digits."""
        self.ensure_one()
        codes = [code.strip() for code in (self.debit_retry_codes or "").split(",") if code.strip()]
        # layout 08 has two-letter codes too (PB, FP...)
        letters = self.debit_layout_version == "08"
        for code in codes:
            if letters and not re.fullmatch(r"[0-9A-Z]{2}", code):
                raise ValidationError(
                    _(
                        "Collection account %(account)s, Codes Re-presented: %(code)s is not a "
                        "two-character CNAB 150 return code (e.g. 01,05,PB).",
                        account=self.display_name,
                        code=code,
                    )
                )
            if not letters and not (len(code) == 2 and code.isdigit()):
                raise ValidationError(
                    _(
                        "Collection account %(account)s, Codes Re-presented: %(code)s is not a "
                        "two-digit CNAB 150 return code (e.g. 01,05).",
                        account=self.display_name,
                        code=code,
                    )
                )
        return set(codes)

    def _compute_debit_counts(self):
        mandates = dict(
            self.env["rbm.debit.mandate"]._read_group(
                [("collection_account_id", "in", self.ids)], ["collection_account_id"], ["__count"]
            )
        )
        files = dict(
            self.env["rbm.debit.file"]._read_group(
                [("collection_account_id", "in", self.ids)], ["collection_account_id"], ["__count"]
            )
        )
        for account in self:
            account.debit_mandate_count = mandates.get(account, 0)
            account.debit_file_count = files.get(account, 0)

    @api.constrains(
        "debit_agreement", "bank_code", "company_id", "debit_layout_version", "debit_account_fill"
    )
    def _check_debit_agreement_format(self):
        for account in self.filtered("debit_agreement"):
            try:
                self.env["rbm.debit.file"]._render_remittance(account, [], 1, fields.Date.today())
            except CnabError as error:
                raise ValidationError(
                    _(
                        "Direct Debit Agreement of %(account)s: %(error)s",
                        account=account.display_name,
                        error=error.message,
                    )
                ) from None

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_generate_debit_remittance(self):
        check_staff_access(self, "read")
        self.ensure_one()
        debit_file, skipped = self.env["rbm.debit.file"]._generate_remittance(self)
        lines = [f"{move.name}: {reason}" for move, reason in skipped.items()]
        if not debit_file:
            message = _(
                "Agreement %(account)s has no installment to debit.", account=self.display_name
            )
            raise UserError("\n".join([message, *lines[:30]]))
        if skipped:
            left_out = "; ".join(lines)
            debit_file.message_post(body=_("Left out: %(invoices)s", invoices=left_out))
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.debit.file",
            "res_id": debit_file.id,
            "view_mode": "form",
        }

    def action_import_debit_return(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Import Direct Debit Return"),
            "res_model": "rbm.debit.import.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_collection_account_id": self.id},
        }

    def action_view_debit_mandates(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rbm_dunning.rbm_debit_mandate_action"
        )
        action["domain"] = [("collection_account_id", "=", self.id)]
        action["context"] = {"default_collection_account_id": self.id}
        return action

    def action_view_debit_files(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("rbm_dunning.rbm_debit_file_action")
        action["domain"] = [("collection_account_id", "=", self.id)]
        return action

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    def _check_debit_agreement(self):
        self.ensure_one()
        if not self.debit_agreement:
            raise UserError(
                _(
                    "Collection account %(account)s has no direct debit agreement.",
                    account=self.display_name,
                )
            )

    def _get_debit_layout_version(self):
        """The agreement's CNAB 150 layout version (04 for one saved before
        the field existed)."""
        self.ensure_one()
        return self.debit_layout_version or cnab150.LAYOUT_VERSION

    def _reserve_debit_nsa(self):
        """The next CNAB 150 NSA, reserved under a row lock."""
        self.ensure_one()
        self.flush_recordset(["next_debit_nsa"])
        self.env.cr.execute(
            "UPDATE rbm_collection_account SET next_debit_nsa = next_debit_nsa + 1 "
            "WHERE id = %s RETURNING next_debit_nsa - 1",
            (self.id,),
        )
        nsa = self.env.cr.fetchone()[0]
        self.invalidate_recordset(["next_debit_nsa"])
        return nsa

    def _lock_for_debit_return(self):
        """Row lock that also changes the row, so that a concurrent import on
        the same account is retried and sees the lines logged here."""
        self.ensure_one()
        self._lock()
        self.env.cr.execute(
            "UPDATE rbm_collection_account SET last_debit_return_date = now() at time zone 'UTC'"
            " WHERE id = %s",
            (self.id,),
        )
        self.invalidate_recordset(["last_debit_return_date"])
