"""A Pix Automático authorization (``rec``) of one contract.

The record mirrors the PSP's recurrence: it is created in state ``to_send`` (nothing is sent
inside the user's transaction), sent by the authorizations cron (``POST /rec``, or
``POST /solicrec`` for journey 1), and follows the statuses the PSP reports by notification
(``/webhookrec``) or by the cron that reads back what stayed pending. One authorization per
contract is live (``to_send``, ``created`` or ``approved``) at a time (database-enforced).
"""

from odoo import fields, models
from odoo.tools import SQL, sql

LIVE_STATES = ("to_send", "created", "approved")

PERIODICITIES = [
    ("SEMANAL", "Weekly"),
    ("MENSAL", "Monthly"),
    ("TRIMESTRAL", "Quarterly"),
    ("SEMESTRAL", "Half-yearly"),
    ("ANUAL", "Yearly"),
]

RETRY_POLICIES = [
    ("NAO_PERMITE", "No retries"),
    ("PERMITE_3R_7D", "Up to 3 retries within 7 days"),
]


class RbmPixAuthorization(models.Model):
    _name = "rbm.pix.authorization"
    _description = "Pix Automático Authorization"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "display_ref"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    contract_id = fields.Many2one(
        "rbm.contract",
        string="Contract",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    partner_id = fields.Many2one("res.partner", string="Payer", required=True)
    connection_id = fields.Many2one(
        "rbm.pix.connection", string="PSP Connection", required=True, ondelete="restrict"
    )
    journey = fields.Selection(
        [
            ("1", "Journey 1 – request sent to the payer's bank"),
            ("2", "Journey 2 – QR code with the recurrence"),
            ("3", "Journey 3 – QR code: first payment now and the recurrence"),
            ("4", "Journey 4 – due-date charge offering the recurrence"),
        ],
        required=True,
        default="2",
    )
    state = fields.Selection(
        [
            ("to_send", "To Send"),
            ("created", "Awaiting Payer"),
            ("approved", "Approved"),
            ("rejected", "Rejected"),
            ("expired", "Expired"),
            ("cancelled", "Cancelled"),
            ("failed", "Failed"),
        ],
        default="to_send",
        required=True,
        index=True,
        tracking=True,
    )
    id_rec = fields.Char(string="Recurrence ID (idRec)", readonly=True, copy=False, index=True)
    id_solic_rec = fields.Char(string="Request ID (idSolicRec)", readonly=True, copy=False)
    txid = fields.Char(
        string="First Charge Transaction ID",
        readonly=True,
        copy=False,
        help="Journeys 3 and 4: the immediate or due-date charge carrying the recurrence.",
    )
    location = fields.Char(readonly=True, copy=False)
    pix_copy_paste = fields.Char(string="Pix Copy and Paste", readonly=True, copy=False)
    periodicity = fields.Selection(PERIODICITIES, required=True)
    amount_type = fields.Selection(
        [("fixed", "Fixed amount"), ("variable", "Variable amount")],
        required=True,
        default="fixed",
    )
    amount = fields.Monetary(help="Fixed amount of each cycle (valorRec).")
    amount_floor = fields.Monetary(
        string="Receiver's Floor",
        help="Variable amount: the lowest amount the payer may set as the maximum "
        "(valorMinimoRecebedor).",
    )
    payer_max_amount = fields.Monetary(
        string="Payer's Maximum", readonly=True, help="Maximum per cycle set by the payer."
    )
    first_amount = fields.Monetary(help="Journey 3: the payment made now.")
    start_date = fields.Date(required=True)
    end_date = fields.Date()
    retry_policy = fields.Selection(RETRY_POLICIES, required=True, default="PERMITE_3R_7D")
    approved_on = fields.Datetime(readonly=True, copy=False)
    ended_on = fields.Datetime(readonly=True, copy=False)
    cancelled_by = fields.Selection(
        [
            ("payer", "Payer"),
            ("receiver", "Receiver"),
            ("payer_psp", "Payer's PSP"),
            ("receiver_psp", "Receiver's PSP"),
        ],
        readonly=True,
        copy=False,
    )
    reason_code = fields.Char(readonly=True, copy=False)
    reason = fields.Char(string="Reason", readonly=True, copy=False)
    error_message = fields.Text(string="Last Error", readonly=True, copy=False)
    display_ref = fields.Char(compute="_compute_display_ref")

    def _compute_display_ref(self):
        for auth in self:
            auth.display_ref = auth.id_rec or auth.id_solic_rec or f"#{auth.id or 0}"

    # ------------------------------------------------------------
    # SQL
    # ------------------------------------------------------------

    _sql_constraints = [
        (
            "id_rec_uniq",
            "unique(connection_id, id_rec)",
            "A Pix Automático recurrence (idRec) belongs to one authorization only.",
        ),
    ]

    def init(self):
        super().init()
        # one live authorization per contract (an ended one may be replaced)
        if not sql.index_exists(self.env.cr, "rbm_pix_authorization_contract_live_uniq"):
            self.env.cr.execute(
                SQL(
                    """
                    CREATE UNIQUE INDEX rbm_pix_authorization_contract_live_uniq
                        ON rbm_pix_authorization (contract_id)
                     WHERE state IN %s
                    """,
                    LIVE_STATES,
                )
            )
