import contextlib
import datetime
import logging
import os
import re
import tempfile
from decimal import Decimal

from lxml import etree
from psycopg2 import IntegrityError, OperationalError
from psycopg2.errors import LockNotAvailable, SerializationFailure

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tools import LazyTranslate, float_round

from odoo.addons.rbm_recurring.tools import auto_commit_allowed, check_staff_access

from ..engine import dps as dps_engine
from ..engine import sefin
from ..tools import SERVICE_FIELDS, STATES

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

# a "sent" record is not picked up again before this lease ends (the worker that sent it
# is waiting for the answer); after a crash the next run looks the DPS up
SENT_LEASE = datetime.timedelta(minutes=10)
# outage: retried after 5, 10, 20... minutes, at most 6 hours apart
RETRY_FIRST = datetime.timedelta(minutes=5)
RETRY_MAX = datetime.timedelta(hours=6)
# the DPS's dhEmi is set a minute back, so a Sefin clock slightly behind ours does not
# refuse it as issued in the future (E0008)
CLOCK_MARGIN = datetime.timedelta(minutes=1)
# serialization conflicts with other workers a run absorbs before giving up until next time
MAX_CONFLICTS = 20

# the DPS element at fault (DpsError.field, longest prefix first) in the user's words
FIELD_LABELS = [
    ("toma/end/endNac/cMun", _lt("the customer's municipality (IBGE code)")),
    ("toma/end/CEP", _lt("the customer's ZIP code (CEP)")),
    ("toma/end/endNac/CEP", _lt("the customer's ZIP code (CEP)")),
    ("toma/end/xLgr", _lt("the customer's street")),
    ("toma/end/xBairro", _lt("the customer's district (second address line)")),
    ("toma/end", _lt("the customer's address")),
    ("toma/CPF", _lt("the customer's CPF/CNPJ")),
    ("toma/CNPJ", _lt("the customer's CPF/CNPJ")),
    ("toma/xNome", _lt("the customer's name")),
    ("toma", _lt("the customer")),
    ("prest/CNPJ", _lt("the company's CNPJ")),
    ("prest/IM", _lt("the company's municipal registration")),
    ("prest/regTrib", _lt("the company's tax regime")),
    ("cLocEmi", _lt("the company's municipality (IBGE code)")),
    ("serv/cServ/cTribNac", _lt("the national service code of the product")),
    ("serv/cServ/cNBS", _lt("the NBS code of the product")),
    ("serv/cServ/cTribMun", _lt("the municipal service code of the product")),
    ("serv/cServ/xDescServ", _lt("the description of the invoice lines")),
    ("serv", _lt("the service of the invoice lines")),
    ("valores/trib/tribMun", _lt("the ISS rate of the product")),
    ("valores/trib/tribFed", _lt("the federal retentions of the product")),
    ("valores", _lt("the amounts of the invoice")),
    ("IBSCBS", _lt("the IBS/CBS classification of the product")),
    ("serie", _lt("the DPS series")),
    ("nDPS", _lt("the DPS number")),
    ("dhEmi", _lt("the DPS issue date and time")),
    ("dCompet", _lt("the competence date (invoice date)")),
    ("subst", _lt("the replaced NFS-e")),
    ("schema", _lt("the DPS layout (XML schema)")),
    ("versao", _lt("the DPS layout version")),
    ("signature", _lt("the DPS signature (the company's A1 certificate)")),
    ("certificate", _lt("the company's A1 certificate")),
]

# The Sefin Nacional's rejection codes in words: code -> (the DPS element at fault, what to
# do). The national table is Anexo I "Leiaute e Regras de Negócio da DPS" of the Manual do
# Contribuinte (layout 1.01); the codes below are those the Sefin returns with these texts
# (its answers as issuers report them), to be cross-checked against the Anexo I edition in
# force when it changes:
# - RNG6110 "Falha Schema Xml", E6154 "Xml não está utilizando codificação UTF-8", E6155 "Xml
#   declarado com prefixo de namespace": the Sefin's schema and encoding checks;
# - E0004 "Conteúdo do identificador informado na DPS difere da concatenação dos campos
#   correspondentes" (TSIdDPS: municipality, CPF/CNPJ, series, number);
# - E0008 (DPS issue date after the processing date), E0312 (national service code not
#   administered by the municipality), E0714 "Arquivo enviado com erro na assinatura";
# - E0310 "O código de tributação nacional informado não existe conforme a lista de serviços
#   nacional do Sistema Nacional NFS-e";
# - E0014: the DPS Id was already turned into an NFS-e (the client looks it up first);
# - E1235: the Sefin requires the NT 009 layout (``finNFSe``) from its production date.
# Any other code is shown with the Sefin's own Descricao and Complemento.
SEFIN_ERRORS = {
    "RNG6110": (
        "schema",
        _lt("the DPS does not follow the official schema of layout 1.01"),
    ),
    "E6154": ("schema", _lt("the DPS was not sent in UTF-8")),
    "E6155": (
        "signature",
        _lt("the signature was written with a namespace prefix (ds:), which the Sefin refuses"),
    ),
    "E0004": (
        "nDPS",
        _lt(
            "the DPS Id does not match the municipality, CNPJ, series and number it carries: "
            "check the company's municipality (IBGE code) and the DPS series"
        ),
    ),
    "E0008": (
        "dhEmi",
        _lt(
            "the DPS issue date and time is later than the Sefin's clock: check this server's "
            "clock, then resend"
        ),
    ),
    "E0014": (
        "nDPS",
        _lt("this series and DPS number were already turned into another NFS-e"),
    ),
    "E0310": (
        "serv/cServ/cTribNac",
        _lt("the national service code does not exist in the national service list"),
    ),
    "E0312": (
        "serv/cServ/cTribNac",
        _lt(
            "the municipality does not administer this national service code: check the "
            "product's code or ask the municipality which code it accepts"
        ),
    ),
    "E0714": (
        "signature",
        _lt(
            "the Sefin could not verify the DPS signature: upload the company's A1 "
            "certificate again (the one the connection uses must sign the DPS)"
        ),
    ),
    "E1235": (
        "versao",
        _lt(
            "the Sefin requires the new layout (NT 009, with finNFSe): choose it in the "
            "NFS-e settings when this version offers it"
        ),
    ),
}


class RbmNfse(models.Model):
    """The NFS-e of one customer invoice: its DPS (series, number, Id), its state at the
    Sefin Nacional and what came back (access key, NFS-e number, XML)."""

    _name = "rbm.nfse"
    _description = "NFS-e"
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name")
    move_id = fields.Many2one(
        "account.move",
        string="Invoice",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
        check_company=True,
    )
    company_id = fields.Many2one(related="move_id.company_id", store=True, index=True)
    partner_id = fields.Many2one(related="move_id.partner_id", string="Customer")
    state = fields.Selection(STATES, default="to_issue", required=True, readonly=True, index=True)
    series = fields.Char(readonly=True, copy=False)
    number = fields.Integer(string="DPS Number", readonly=True, copy=False)
    dps_id = fields.Char(string="DPS Id", readonly=True, copy=False, index="btree_not_null")
    environment = fields.Char(readonly=True, copy=False)
    access_key = fields.Char(readonly=True, copy=False, index="btree_not_null")
    nfse_number = fields.Char(string="NFS-e Number", readonly=True, copy=False)
    issued_at = fields.Datetime(readonly=True, copy=False)
    dps_attachment_id = fields.Many2one("ir.attachment", string="Signed DPS", readonly=True)
    nfse_attachment_id = fields.Many2one("ir.attachment", string="NFS-e XML", readonly=True)
    cancel_attachment_id = fields.Many2one(
        "ir.attachment", string="Cancellation Event", readonly=True
    )
    error_codes = fields.Char(string="Rejection Codes", readonly=True, copy=False)
    error_message = fields.Text(string="Reason", readonly=True, copy=False)
    attempts = fields.Integer(readonly=True, copy=False)
    next_retry = fields.Datetime(string="Next Attempt", readonly=True, copy=False)
    cancel_reason_code = fields.Selection(
        [(code, text) for code, text in dps_engine.CANCEL_REASONS.items()],
        string="Cancellation Reason",
        readonly=True,
        copy=False,
    )
    cancel_reason = fields.Char(string="Cancellation Explanation", readonly=True, copy=False)
    cancelled_at = fields.Datetime(readonly=True, copy=False)
    replaces_id = fields.Many2one(
        "rbm.nfse",
        string="Replaces",
        readonly=True,
        copy=False,
        index="btree_not_null",
        check_company=True,
        help="The NFS-e this one replaces (DPS group subst).",
    )
    replaced_by_id = fields.Many2one(
        "rbm.nfse", string="Replaced By", readonly=True, copy=False, check_company=True
    )
    replace_reason_code = fields.Selection(
        [(code, f"{code} - {text}") for code, text in dps_engine.REPLACE_REASONS.items()],
        string="Replacement Reason",
        readonly=True,
        copy=False,
    )
    replace_reason = fields.Char(string="Replacement Explanation", readonly=True, copy=False)
    late = fields.Boolean(
        string="Late",
        compute="_compute_late",
        search="_search_late",
        help="Not issued yet although its invoice is older than the company's days for it.",
    )

    _sql_constraints = [
        (
            "number_uniq",
            "UNIQUE (company_id, series, number)",
            "A DPS number is used once per company and series.",
        ),
    ]

    def init(self):
        super().init()
        # One live NFS-e per invoice, whatever runs concurrently; a replacement is the one
        # live substitute of the NFS-e it replaces (the replaced one is cancelled when the
        # Sefin issues the substitute).
        self.env.cr.execute(
            """
            DROP INDEX IF EXISTS rbm_nfse_move_uniq;
            CREATE UNIQUE INDEX IF NOT EXISTS rbm_nfse_move_live_uniq
                ON rbm_nfse (move_id)
             WHERE state != 'cancelled' AND replaces_id IS NULL;
            CREATE UNIQUE INDEX IF NOT EXISTS rbm_nfse_replaces_live_uniq
                ON rbm_nfse (replaces_id)
             WHERE state != 'cancelled' AND replaces_id IS NOT NULL;
            """
        )

    @api.depends("nfse_number", "number", "move_id")
    def _compute_name(self):
        for nfse in self:
            if nfse.nfse_number:
                nfse.name = _("NFS-e %(number)s", number=nfse.nfse_number)
            elif nfse.number:
                nfse.name = _("DPS %(series)s/%(number)s", series=nfse.series, number=nfse.number)
            else:
                nfse.name = _("NFS-e of %(invoice)s", invoice=nfse.move_id.display_name)

    @api.depends_context("today")
    def _compute_late(self):
        late = self.filtered("id").search(
            [("id", "in", self.filtered("id").ids), ("late", "=", True)]
        )
        for nfse in self:
            nfse.late = nfse in late

    def _search_late(self, operator, value):
        """Not issued (to issue, sent, rejected) while its invoice date (else its creation) is
        more than the company's ``nfse_late_days`` days ago: one query for every company."""
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("The filter %(field)s takes only = or != True/False.", field="late"))
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT n.id
              FROM rbm_nfse n
              JOIN account_move m ON m.id = n.move_id
              JOIN res_company c ON c.id = n.company_id
             WHERE n.state IN ('to_issue', 'sent', 'rejected')
               AND COALESCE(m.invoice_date, n.create_date::date)
                   < %(today)s::date - COALESCE(c.nfse_late_days, 3)
            """,
            {"today": fields.Date.context_today(self)},
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        positive = (operator == "=") == value
        return [("id", "in" if positive else "not in", ids)]

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_resend(self):
        """A person fixed what the rejection named: issue again (same DPS number)."""
        check_staff_access(self)
        rejected = self.filtered(lambda nfse: nfse.state == "rejected")
        if rejected != self:
            raise UserError(_("Only a rejected NFS-e is sent again."))
        rejected.write({"state": "to_issue", "next_retry": False})
        self.env.ref("rbm_nfse.ir_cron_rbm_nfse_issue")._trigger()
        return True

    def action_replace(self):
        """Open the replacement wizard of an issued NFS-e."""
        check_staff_access(self)
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Replace NFS-e"),
            "res_model": "rbm.nfse.replace.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_nfse_id": self.id},
        }

    def action_discard_replacement(self):
        """A refused replacement is given up: the substitute (rejected, never issued) is
        closed with its DPS number kept, and the replaced NFS-e stays as it is."""
        check_staff_access(self)
        for nfse in self:
            if not nfse.replaces_id or nfse.state != "rejected":
                raise UserError(
                    _(
                        "Only a rejected replacement is discarded; %(nfse)s of invoice "
                        "%(invoice)s is not one.",
                        nfse=nfse.display_name,
                        invoice=nfse.move_id.display_name,
                    )
                )
        for nfse in self:
            nfse.sudo().write({"state": "cancelled", "cancelled_at": fields.Datetime.now()})
            nfse.move_id.message_post(
                body=_(
                    "The replacement of NFS-e %(number)s was discarded; it stays valid.",
                    number=nfse.replaces_id.nfse_number or "-",
                )
            )
        return True

    # ------------------------------------------------------------
    # ISSUING RUN
    # ------------------------------------------------------------

    @api.model
    def _cron_issue(self, batch_size=50):
        """Issue what is due, one NFS-e at a time under its row lock (``FOR UPDATE SKIP
        LOCKED``: two workers never send the same one), re-triggering while work remains."""
        self.env["account.move"]._nfse_queue_due(fields.Date.context_today(self))
        done = self.browse()
        # the companies' A1 certificates, read once per run (PKCS#12 decryption is costly),
        # and one Sefin client per certificate for the run (one TLS connection, kept alive)
        certificates = {}
        clients = _SefinClients()
        with clients:
            done = self._issue_batch(done, batch_size, certificates, clients)
        remaining = self._count_due()
        self.env["ir.cron"]._notify_progress(done=len(done), remaining=remaining)
        _logger.info("NFS-e run: %s handled, %s remaining", len(done), remaining)
        if remaining and len(done) >= batch_size:
            self.env.ref("rbm_nfse.ir_cron_rbm_nfse_issue")._trigger()
        return done

    def _issue_batch(self, done, batch_size, certificates, clients):
        """Lock and issue the NFS-e due one by one until ``batch_size`` were handled (see
        ``_cron_issue``); a concurrency conflict starts a new transaction."""
        conflicts = 0
        while len(done) < batch_size:
            nfse = self.browse()
            try:
                nfse = self._lock_next(done)
                if not nfse:
                    break
                done |= nfse
                nfse._issue(certificates, clients)
            except OperationalError as error:
                # REPEATABLE READ: another worker committed a change to a row this
                # transaction reads (the NFS-e, the DPS counter) after it began; start a
                # new transaction and go on (nothing of this NFS-e was kept)
                if (
                    error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY
                    or not auto_commit_allowed()
                    or conflicts >= MAX_CONFLICTS
                ):
                    raise
                conflicts += 1
                self.env.cr.rollback()
                self.env.invalidate_all()
                done -= nfse
                continue
            if auto_commit_allowed():
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return done

    def _due_sql(self):
        return """
            FROM rbm_nfse n
            JOIN account_move m ON m.id = n.move_id
           WHERE n.state IN ('to_issue', 'sent')
             AND (n.next_retry IS NULL OR n.next_retry <= %(now)s)
             AND m.state = 'posted'
        """

    @api.model
    def _count_due(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT count(*) " + self._due_sql(),  # noqa: S608 -- a constant
            {"now": fields.Datetime.now()},
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _lock_next(self, skip):
        """The next NFS-e due, its row locked; rows locked by another worker are skipped."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT n.id "  # noqa: S608 -- constant SQL, values as parameters
            + self._due_sql()
            + " AND NOT n.id = ANY(%(skip)s) ORDER BY n.id LIMIT 1"
            " FOR NO KEY UPDATE OF n SKIP LOCKED",
            {"now": fields.Datetime.now(), "skip": skip.ids or [0]},
        )
        row = self.env.cr.fetchone()
        nfse = self.browse(row[0]) if row else self.browse()
        nfse.invalidate_recordset()
        return nfse

    def _issue(self, certificates=None, clients=None):
        """Build, sign and send the DPS of each NFS-e (rows locked by the caller);
        ``certificates``: the loaded A1 certificates of the run, by certificate record;
        ``clients``: the run's Sefin clients (:class:`_SefinClients`), one per certificate."""
        certificates = {} if certificates is None else certificates
        if clients is None:
            with _SefinClients() as clients:
                for nfse in self:
                    nfse._issue_one(certificates, clients)
            return
        for nfse in self:
            nfse._issue_one(certificates, clients)

    def _issue_one(self, certificates, clients):  # noqa: C901 -- the steps of one issue, in order
        self.ensure_one()
        company = self.company_id
        version = company.nfse_layout_version or "1.01"
        try:
            certificate = company._nfse_certificate()
            key = (certificate.id, certificate.write_date)
            if key not in certificates:
                certificates[key] = certificate._load()
            a1 = certificates[key]
            if a1.expired():
                raise dps_engine.DpsError(
                    "certificate",
                    _("it expired on %(date)s", date=a1.not_after.date().isoformat()),
                )
            dps = self._prepare_dps(self.number or 1)
            # the rules before a DPS number is used (built and validated once numbered)
            dps_engine.layout(version).check(dps)
        except dps_engine.DpsError as error:
            self._reject([(error.field, error.message)])
            return
        except UserError as error:
            self._reject([("", error.args[0])])
            return
        retry = self.state == "sent"
        if not self.number:
            series = company.nfse_series or "1"
            number = self.env["rbm.nfse.counter"]._reserve(company, series)
            self.write({"series": series, "number": number})
        dps.number = self.number
        dps.series = self.series
        try:
            prepared = dps_engine.prepare_dps(dps, a1, version)
        except dps_engine.DpsError as error:
            self._reject([(error.field, error.message)])
            return
        self._attach("dps_attachment_id", f"DPS{prepared.id}.xml", prepared.xml)
        self.write(
            {
                "state": "sent",
                "dps_id": prepared.id,
                "environment": company.nfse_environment,
                "attempts": self.attempts + 1,
                "next_retry": fields.Datetime.now() + SENT_LEASE,
            }
        )
        if auto_commit_allowed():
            # the number and the "sent" state are kept before the DPS leaves: a crash
            # from here on is recovered by looking the DPS up
            self.env.cr.commit()  # pylint: disable=invalid-commit
        try:
            client = clients.get(self, key, a1)
            issued = client.issue(prepared, look_up_first=retry)
            event_xml = self._replacement_event(client)
        except sefin.SefinError as error:
            self._reject(self._sefin_problems(error), codes=error.codes)
        except sefin.SefinUnavailable as error:
            delay = min(RETRY_FIRST * 2 ** max(self.attempts - 1, 0), RETRY_MAX)
            self.write(
                {
                    "next_retry": fields.Datetime.now() + delay,
                    "error_message": _(
                        "The Sefin Nacional is unavailable; next attempt in %(minutes)s "
                        "minutes. %(detail)s",
                        minutes=int(delay.total_seconds() // 60),
                        detail=str(error),
                    ),
                }
            )
        else:
            self._store(issued)
            self._store_replacement(event_xml)

    def _prepare_dps(self, number):
        """The engine's ``Dps`` of this NFS-e's invoice."""
        self.ensure_one()
        move = self.move_id
        company = move.company_id
        now = datetime.datetime.now(datetime.UTC) - CLOCK_MARGIN
        service, ibscbs = self._prepare_service()
        return dps_engine.Dps(
            issuer=dps_engine.Issuer(
                cnpj=company._nfse_cnpj(),
                municipal_registration=company.nfse_municipal_registration or "",
                city_ibge=company.nfse_city_ibge or "",
                regime=company.nfse_regime or "simples",
                simples_apportionment=company.nfse_simples_apportionment or "1",
                special_regime=company.nfse_special_regime or "0",
            ),
            taker=self._prepare_taker(),
            service=service,
            series=self.series or company.nfse_series or "1",
            number=number,
            issued_at=now.astimezone(dps_engine.BRASILIA),
            competence=move.invoice_date or fields.Date.context_today(self),
            environment=company.nfse_environment or "2",
            ibscbs=ibscbs,
            replaces=self._prepare_replacement(),
        )

    def _prepare_replacement(self):
        replaced = self.replaces_id
        if not replaced:
            return None
        return dps_engine.Replacement(
            access_key=replaced.access_key or "",
            reason_code=self.replace_reason_code or "",
            reason=self.replace_reason or "",
        )

    def _prepare_taker(self):
        partner = self.move_id.partner_id.commercial_partner_id
        document = dps_engine.only_digits(partner.vat)
        if not document:
            raise dps_engine.DpsError("toma/CPF", _("the customer has no CPF or CNPJ"))
        if not partner.nfse_city_ibge:
            raise dps_engine.DpsError(
                "toma/end/endNac/cMun", _("the customer's city has no IBGE code")
            )
        street, number = partner.street or "", "S/N"
        found = re.fullmatch(r"(.+?),\s*(\S+)", street.strip())
        if found:
            street, number = found.groups()
        return dps_engine.Taker(
            name=partner.name or "",
            cpf=document if len(document) == 11 else "",
            cnpj=document if len(document) != 11 else "",
            address=dps_engine.Address(
                street=street,
                number=number,
                district=partner.street2 or "",
                city_ibge=partner.nfse_city_ibge,
                zip_code=dps_engine.only_digits(partner.zip),
            ),
            email=partner.email or "",
        )

    def _prepare_service(self):
        """One ``Service`` for the invoice (a DPS has one): amounts of its product lines,
        their descriptions, the service data of the first line (plan line, product,
        company; every line must share the national service code)."""
        move = self.move_id
        lines = move.invoice_line_ids.filtered(lambda line: line.display_type == "product")
        if not lines:
            raise dps_engine.DpsError("serv", _("the invoice has no service line"))
        data = [self._service_data(line) for line in lines]
        codes = {values["nfse_service_code"] for values in data}
        if len(codes) > 1:
            raise dps_engine.DpsError(
                "serv/cServ/cTribNac",
                _(
                    "the lines have different national service codes (%(codes)s): one NFS-e "
                    "has one service",
                    codes=", ".join(sorted(code or "-" for code in codes)),
                ),
            )
        values = data[0]
        currency = move.currency_id
        amount = Decimal(str(currency.round(sum(lines.mapped("price_subtotal")))))

        def retained(rate):
            return Decimal(str(float_round(float(amount) * rate / 100, 2)))

        service = dps_engine.Service(
            national_code=values["nfse_service_code"] or "",
            description="; ".join(line.name or line.product_id.display_name for line in lines)[
                :2000
            ],
            amount=amount,
            municipal_code=values["nfse_municipal_code"] or "",
            nbs_code=values["nfse_nbs_code"] or "",
            iss_rate=Decimal(str(values["nfse_iss_rate"])) if values["nfse_iss_rate"] else None,
            iss_withheld=values["nfse_iss_withheld"] == "yes",
            retentions=dps_engine.Retentions(
                cp=retained(values["nfse_cp_rate"]),
                irrf=retained(values["nfse_irrf_rate"]),
                csll=retained(values["nfse_csll_rate"]),
            ),
        )
        ibscbs = None
        if values["nfse_ibscbs_cst"]:
            ibscbs = dps_engine.IbsCbs(
                cst=values["nfse_ibscbs_cst"],
                class_code=values["nfse_ibscbs_class"] or "",
                operation_indicator=values["nfse_operation_indicator"] or "",
                final_consumer=len(dps_engine.only_digits(move.partner_id.vat)) == 11,
            )
        return service, ibscbs

    @api.model
    def _service_data(self, line):
        """The NFS-e service data of an invoice line: each value from its plan line when set
        there, else from its product, else from the company's defaults."""
        sources = [
            line.rbm_contract_line_id.plan_line_id,
            line.product_id.product_tmpl_id,
            line.move_id.company_id,
        ]
        values = {}
        for name in SERVICE_FIELDS:
            values[name] = next(
                (source[name] for source in sources if source and source[name]), False
            )
        return values

    # ------------------------------------------------------------
    # CANCELLATION
    # ------------------------------------------------------------

    def _cancel(self, reason_code, reason):
        """Send the cancellation event (e101101) of this issued NFS-e; accepted, the NFS-e
        is cancelled and its invoice too. Refused (outside the Sefin's window, already
        cancelled...), the user is told why and nothing changes."""
        self.ensure_one()
        if self.state != "issued":
            raise UserError(_("Only an issued NFS-e can be cancelled."))
        event = dps_engine.Cancellation(
            access_key=self.access_key,
            author_cnpj=self.company_id._nfse_cnpj(),
            reason_code=reason_code,
            reason=reason,
            at=(datetime.datetime.now(datetime.UTC) - CLOCK_MARGIN).astimezone(dps_engine.BRASILIA),
            environment=self.environment or self.company_id.nfse_environment or "2",
        )
        a1 = self.company_id._nfse_certificate()._load()
        try:
            prepared = dps_engine.prepare_cancellation(
                event, a1, self.company_id.nfse_layout_version or "1.01"
            )
            with self._sefin_client(a1) as client:
                event_xml, _answer = client.send_event(self.access_key, prepared)
        except dps_engine.DpsError as error:
            raise UserError(
                _(
                    "The cancellation of the NFS-e of %(invoice)s cannot be sent: %(reason)s",
                    invoice=self.move_id.display_name,
                    reason=error.message,
                )
            ) from error
        except sefin.SefinError as error:
            raise UserError(
                _(
                    "The Sefin Nacional refused to cancel the NFS-e of %(invoice)s: "
                    "%(reasons)s. An NFS-e is cancelled only within the period the "
                    "municipality allows; after it, issue a credit or a replacement.",
                    invoice=self.move_id.display_name,
                    reasons="; ".join(f"{e['Codigo']}: {e['Descricao']}" for e in error.errors),
                )
            ) from error
        except sefin.SefinUnavailable as error:
            raise UserError(
                _(
                    "The Sefin Nacional is unavailable, try again later: %(detail)s",
                    detail=str(error),
                )
            ) from error
        attachment = self._attach("cancel_attachment_id", f"EVT{prepared.id}.xml", event_xml)
        self.write(
            {
                "state": "cancelled",
                "cancel_reason_code": reason_code,
                "cancel_reason": reason,
                "cancelled_at": fields.Datetime.now(),
            }
        )
        move = self.move_id
        move.with_context(no_new_invoice=True).message_post(
            body=_(
                "NFS-e %(number)s cancelled at the Sefin Nacional: %(reason)s",
                number=self.nfse_number or "-",
                reason=reason,
            ),
            attachment_ids=attachment.ids,
        )
        move.button_draft()
        move.button_cancel()
        return True

    # ------------------------------------------------------------
    # REPLACEMENT
    # ------------------------------------------------------------

    def _replace(self, reason_code, reason):
        """Issue a substitute of this issued NFS-e from its invoice as it is now (DPS group
        ``subst``: this NFS-e's access key and the reason). Issued, the Sefin cancels this one
        by substitution (event e105102) and the substitute becomes the invoice's NFS-e.
        What the rules refuse is refused here, in words, before any number is used."""
        self.ensure_one()
        invoice = self.move_id.display_name
        # two users replacing the same NFS-e at once: the second is told, not queued
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT id FROM rbm_nfse WHERE id = %s FOR NO KEY UPDATE NOWAIT", [self.id]
                )
        except (LockNotAvailable, SerializationFailure) as error:
            raise UserError(
                _(
                    "The NFS-e %(nfse)s of invoice %(invoice)s is being replaced by someone "
                    "else right now; reopen it in a moment.",
                    nfse=self.display_name,
                    invoice=invoice,
                )
            ) from error
        if self.state != "issued" or not self.access_key:
            raise UserError(
                _(
                    "Only an issued NFS-e can be replaced: %(nfse)s of invoice %(invoice)s is "
                    "%(state)s.",
                    nfse=self.display_name,
                    invoice=invoice,
                    state=dict(self._fields["state"]._description_selection(self.env))[self.state],
                )
            )
        pending = self.search(
            [("replaces_id", "=", self.id), ("state", "!=", "cancelled")], limit=1
        )
        if pending:
            raise UserError(
                _(
                    "The NFS-e %(nfse)s of invoice %(invoice)s is already being replaced by "
                    "%(substitute)s: resend or discard that one first.",
                    nfse=self.display_name,
                    invoice=invoice,
                    substitute=pending.display_name,
                )
            )
        replacement = dps_engine.Replacement(self.access_key, reason_code, reason or "")
        try:
            dps_engine.layout(self.company_id.nfse_layout_version or "1.01").check_replacement(
                replacement
            )
        except dps_engine.DpsError as error:
            raise UserError(
                _(
                    "The replacement of NFS-e %(nfse)s of invoice %(invoice)s cannot be sent: "
                    "%(field)s — %(reason)s",
                    nfse=self.display_name,
                    invoice=invoice,
                    field=self._field_label(error.field),
                    reason=error.message,
                )
            ) from error
        self._check_replacement_parties()
        try:
            with self.env.cr.savepoint():
                substitute = self.create(
                    {
                        "move_id": self.move_id.id,
                        "replaces_id": self.id,
                        "replace_reason_code": reason_code,
                        "replace_reason": (reason or "").strip() or False,
                    }
                )
                self.env.flush_all()
        except IntegrityError as error:
            # rbm_nfse_replaces_live_uniq: a substitute committed meanwhile
            raise UserError(
                _(
                    "The NFS-e %(nfse)s of invoice %(invoice)s is already being replaced: "
                    "reopen it to see its substitute.",
                    nfse=self.display_name,
                    invoice=invoice,
                )
            ) from error
        substitute._issue()
        return substitute

    def _check_replacement_parties(self):
        """Manual, TCSubstituicao: the substitute has the issuer and the taker of the NFS-e
        it replaces (read from the NFS-e the Sefin returned)."""
        root = etree.fromstring(self.nfse_attachment_id.raw or b"<none/>")
        ns = {"n": dps_engine.NAMESPACE}
        inf = root.find("n:infNFSe/n:DPS/n:infDPS", ns)
        if inf is None:
            raise UserError(
                _(
                    "The XML of NFS-e %(nfse)s of invoice %(invoice)s is missing: it cannot "
                    "be replaced from here.",
                    nfse=self.display_name,
                    invoice=self.move_id.display_name,
                )
            )
        issuer = inf.findtext("n:prest/n:CNPJ", namespaces=ns) or inf.findtext(
            "n:prest/n:CPF", namespaces=ns
        )
        taker = inf.findtext("n:toma/n:CNPJ", namespaces=ns) or inf.findtext(
            "n:toma/n:CPF", namespaces=ns
        )
        partner = self.move_id.partner_id.commercial_partner_id
        now_issuer = self.company_id._nfse_cnpj()
        now_taker = dps_engine.only_digits(partner.vat)
        if issuer != now_issuer:
            raise UserError(
                _(
                    "NFS-e %(nfse)s of invoice %(invoice)s was issued by CNPJ %(old)s and the "
                    "company's CNPJ is now %(new)s: a substitute keeps the issuer.",
                    nfse=self.display_name,
                    invoice=self.move_id.display_name,
                    old=issuer,
                    new=now_issuer or "-",
                )
            )
        if taker != now_taker:
            raise UserError(
                _(
                    "NFS-e %(nfse)s of invoice %(invoice)s was issued to CPF/CNPJ %(old)s and "
                    "the customer %(customer)s has now %(new)s: a substitute keeps the taker "
                    "(for another customer, cancel it and invoice that customer).",
                    nfse=self.display_name,
                    invoice=self.move_id.display_name,
                    old=taker,
                    customer=partner.display_name,
                    new=now_taker or "-",
                )
            )

    def _replacement_event(self, client):
        """The e105102 event the Sefin registered on the NFS-e this one replaced, or None
        (the substitute is kept either way; the event is only the receipt)."""
        if not self.replaces_id.access_key:
            return None
        try:
            return client.get_event(self.replaces_id.access_key, dps_engine.REPLACE_EVENT)
        except (sefin.SefinError, sefin.SefinUnavailable) as error:
            _logger.warning(
                "NFS-e %s: the replacement event of %s could not be read: %s",
                self.id,
                self.replaces_id.access_key,
                error,
            )
            return None

    def _store_replacement(self, event_xml):
        """The substitute is issued: the replaced NFS-e is cancelled by substitution."""
        replaced = self.replaces_id
        if not replaced or replaced.state == "cancelled":
            return
        attachments = self.env["ir.attachment"]
        if event_xml:
            attachments = replaced._attach(
                "cancel_attachment_id",
                f"EVT{replaced.access_key}{dps_engine.REPLACE_EVENT}.xml",
                event_xml,
            )
        replaced.write(
            {
                "state": "cancelled",
                "replaced_by_id": self.id,
                "cancelled_at": fields.Datetime.now(),
                "cancel_reason": self.replace_reason
                or dps_engine.REPLACE_REASONS.get(self.replace_reason_code),
            }
        )
        # the replaced NFS-e's DANFSe is printed again, with the SUBSTITUÍDA watermark, by
        # the DANFSe run (wkhtmltopdf stays out of the issuing run)
        replaced.move_id._rbm_nfse_danfse_find(replaced).unlink()
        self.env.ref("rbm_nfse.ir_cron_rbm_nfse_danfse")._trigger()
        self.move_id.with_context(no_new_invoice=True).message_post(
            body=_(
                "NFS-e %(old)s replaced by NFS-e %(new)s (reason %(code)s - %(reason)s): the "
                "Sefin Nacional cancelled it by substitution (event e105102).",
                old=replaced.nfse_number or "-",
                new=self.nfse_number or "-",
                code=self.replace_reason_code,
                reason=self.replace_reason
                or dps_engine.REPLACE_REASONS.get(self.replace_reason_code, ""),
            ),
            attachment_ids=attachments.ids,
        )

    # ------------------------------------------------------------
    # RESULTS
    # ------------------------------------------------------------

    @contextlib.contextmanager
    def _sefin_client(self, a1):
        """A Sefin client with mutual TLS: the certificate's key and certificate are written
        to a private temporary folder for the connection's time."""
        company = self.company_id
        params = self.env["ir.config_parameter"].sudo()
        with tempfile.TemporaryDirectory(prefix="rbm-nfse-") as folder:
            cert_file = os.path.join(folder, "cert.pem")
            key_file = os.path.join(folder, "key.pem")
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(a1.key_pem)
            with open(cert_file, "wb") as handle:
                handle.write(a1.cert_pem)
            connection = sefin.SefinConnection(
                base_url=company._nfse_url(),
                cert_file=cert_file,
                key_file=key_file,
                # a private CA bundle (the path of a PEM file), for a Sefin stand-in
                ca_file=params.get_param("rbm_nfse.sefin_ca_file") or None,
                read_timeout=float(params.get_param("rbm_nfse.sefin_read_timeout") or 60),
            )
            yield sefin.SefinClient(connection)

    def _attach(self, field_name, name, content):
        old = self[field_name]
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": name,
                    "raw": content,
                    "mimetype": "application/xml",
                    "res_model": "account.move",
                    "res_id": self.move_id.id,
                }
            )
        )
        self[field_name] = attachment
        if old:
            old.unlink()
        return attachment

    def _store(self, issued):
        number = etree.fromstring(issued.nfse_xml).findtext(f".//{{{dps_engine.NAMESPACE}}}nNFSe")
        self._attach("nfse_attachment_id", f"NFSe{issued.access_key}.xml", issued.nfse_xml)
        self.write(
            {
                "state": "issued",
                "access_key": issued.access_key,
                "nfse_number": number,
                "issued_at": fields.Datetime.now(),
                "next_retry": False,
                "error_codes": False,
                "error_message": False,
            }
        )
        self.env.ref("rbm_nfse.ir_cron_rbm_nfse_danfse")._trigger()  # its DANFSe, next
        # no_new_invoice: the XML is not an invoice for Odoo to read
        self.move_id.with_context(no_new_invoice=True).message_post(
            body=_(
                "NFS-e %(number)s issued by the Sefin Nacional (access key %(key)s).",
                number=number or "-",
                key=issued.access_key,
            ),
            attachment_ids=self.nfse_attachment_id.ids,
        )

    @api.model
    def _field_label(self, field_path):
        """The user's words for a DPS element (its path when none is known)."""
        for prefix, text in FIELD_LABELS:
            if (field_path or "").startswith(prefix):
                return str(text)
        return field_path

    @api.model
    def _sefin_problems(self, error):
        """(DPS element, reason) of each error of a Sefin refusal: the documented codes in
        words (with the Sefin's text after them), any other code with the Sefin's own text."""
        problems = []
        for item in error.errors:
            code, text, detail = item["Codigo"], item["Descricao"], item["Complemento"]
            sefin_text = f"{text} ({detail})" if detail and detail not in text else text
            known = SEFIN_ERRORS.get(code)
            if known:
                field_path, words = known
                problems.append(
                    (
                        field_path,
                        _(
                            "%(words)s [%(code)s: %(sefin)s]",
                            words=str(words),
                            code=code,
                            sefin=sefin_text,
                        ),
                    )
                )
            else:
                problems.append(
                    (
                        "",
                        _(
                            "the Sefin Nacional refused it with %(code)s: %(sefin)s",
                            code=code or "-",
                            sefin=sefin_text or "-",
                        ),
                    )
                )
        if not problems and error.status in (401, 403):
            problems.append(
                (
                    "certificate",
                    _(
                        "the Sefin Nacional refused the connection (HTTP %(status)s): the "
                        "certificate is not accepted for this CNPJ",
                        status=error.status,
                    ),
                )
            )
        return problems or [("", str(error))]

    def _reject(self, problems, codes=()):
        """Rejected: the reasons in the user's words, naming the invoice and the field."""
        invoice = self.move_id.display_name
        lines = []
        for field_path, reason in problems:
            label = self._field_label(field_path)
            if label:
                lines.append(
                    _(
                        "Invoice %(invoice)s: %(field)s — %(reason)s",
                        invoice=invoice,
                        field=label,
                        reason=reason,
                    )
                )
            else:
                lines.append(_("Invoice %(invoice)s: %(reason)s", invoice=invoice, reason=reason))
        message = "\n".join(lines)
        self.write(
            {
                "state": "rejected",
                "error_codes": ", ".join(codes) or False,
                "error_message": message,
                "next_retry": False,
            }
        )
        self.move_id.message_post(body=_("The NFS-e was not issued:\n%(reasons)s", reasons=message))


class _SefinClients(contextlib.ExitStack):
    """The Sefin clients of a run, one per (company, certificate): the certificate's
    files and the TLS connection are kept for the run and closed at its end."""

    def __init__(self):
        super().__init__()
        self.clients = {}

    def get(self, nfse, certificate_key, a1):
        key = (nfse.company_id.id, nfse.company_id._nfse_url(), certificate_key)
        if key not in self.clients:
            self.clients[key] = self.enter_context(nfse._sefin_client(a1))
        return self.clients[key]
