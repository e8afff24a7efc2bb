import json
import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from ..engine import rating, usage_input
from ..engine.usage_input import MAX_BATCH, MAX_KEY_LENGTH, MAX_QUANTITY  # noqa: F401

_logger = logging.getLogger(__name__)

# contract states whose service may produce usage (within the contract dates)
USAGE_STATES = ("trial", "active", "suspended", "closed", "cancelled", "expired")


class RbmUsage(models.Model):
    _name = "rbm.usage"
    _description = "Usage Event"
    _order = "timestamp desc, id desc"
    _rec_name = "idempotency_key"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, readonly=True
    )
    idempotency_key = fields.Char(
        required=True,
        copy=False,
        default=lambda self: str(uuid.uuid4()),
        help="Unique per company: an event sent twice with the same key is stored once.",
    )
    contract_id = fields.Many2one(
        "rbm.contract", required=True, ondelete="restrict", check_company=True
    )
    partner_id = fields.Many2one(related="contract_id.partner_id")
    metric_id = fields.Many2one(
        "rbm.metric", required=True, ondelete="restrict", check_company=True
    )
    unit_label = fields.Char(related="metric_id.unit_label")
    quantity = fields.Float(digits=(20, 6), required=True, default=1.0)
    timestamp = fields.Datetime(required=True, default=fields.Datetime.now)
    effective_timestamp = fields.Datetime(
        string="Counted On",
        readonly=True,
        copy=False,
        help="When the event is counted: its timestamp, or the start of the next open "
        "period for a late event.",
    )
    properties = fields.Json(string="Properties (JSON)", copy=False)
    properties_text = fields.Char(
        string="Properties", compute="_compute_properties_text", inverse="_inverse_properties_text"
    )
    state = fields.Selection(
        [
            ("accepted", "Accepted"),
            ("rated", "Rated"),
            ("invoiced", "Invoiced"),
            ("rejected", "Rejected"),
        ],
        required=True,
        default="accepted",
        readonly=True,
        copy=False,
    )
    source = fields.Selection(
        [("api", "API"), ("csv", "CSV import"), ("manual", "Manual")],
        required=True,
        default="manual",
        readonly=True,
    )
    invoice_line_id = fields.Many2one(
        "account.move.line", readonly=True, copy=False, ondelete="set null", index="btree_not_null"
    )
    invoice_id = fields.Many2one(related="invoice_line_id.move_id", string="Invoice")
    released_line_id = fields.Many2one(
        "account.move.line",
        string="Released From",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
        help="The invoice line that billed this event before its invoice was cancelled: the "
        "event goes back to it if that invoice is reset to draft.",
    )
    reason = fields.Char(readonly=True, copy=False, help="Why the event was rejected or moved.")
    api_key_id = fields.Many2one(
        "rbm.api.key",
        string="API Key",
        readonly=True,
        copy=False,
        ondelete="restrict",
        help="The API key the event was sent with.",
    )

    _sql_constraints = [
        (
            "idempotency_key_company_uniq",
            "UNIQUE(company_id, idempotency_key)",
            "An event with this idempotency key already exists.",
        ),
        # NaN is greater than every number in PostgreSQL: this refuses NaN and
        # both infinities too, so billing and statements only ever sum numbers
        (
            "quantity_range",
            f"CHECK(quantity >= 0 AND quantity <= {MAX_QUANTITY})",
            "The quantity of a usage event must be a number from 0 to 1,000,000,000,000.",
        ),
    ]

    def init(self):
        super().init()
        create_index(
            self.env.cr,
            "rbm_usage_contract_metric_timestamp_idx",
            self._table,
            ["contract_id", "metric_id", "effective_timestamp"],
        )
        # the events not invoiced yet, which the billing run and the allowance
        # alerts read (the first window of a contract takes all its older
        # ones): without it they walk every invoiced event of the contract
        create_index(
            self.env.cr,
            "rbm_usage_accepted_idx",
            self._table,
            ["contract_id", "metric_id", "effective_timestamp"],
            where="state = 'accepted'",
        )

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    @api.depends("properties")
    def _compute_properties_text(self):
        for event in self:
            event.properties_text = (
                json.dumps(event.properties, ensure_ascii=False) if event.properties else False
            )

    def _inverse_properties_text(self):
        for event in self:
            try:
                value = json.loads(event.properties_text) if event.properties_text else False
            except ValueError as error:
                raise ValidationError(
                    _('The properties must be a JSON object, e.g. {"user": "ana"}.')
                ) from error
            if value and not isinstance(value, dict):
                raise ValidationError(
                    _('The properties must be a JSON object, e.g. {"user": "ana"}.')
                )
            event.properties = value

    # ------------------------------------------------------------
    # CRUD METHODS
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        """Manual entry: the same rules as the API (an invalid event is refused)."""
        contracts = self.env["rbm.contract"].browse(
            [vals["contract_id"] for vals in vals_list if vals.get("contract_id")]
        )
        open_from = {c: c._get_usage_open_from() for c in contracts}
        for vals in vals_list:
            if "quantity" in vals:
                self._check_quantity_value(vals["quantity"], vals.get("idempotency_key"))
            if vals.get("state", "accepted") != "accepted" or vals.get("effective_timestamp"):
                continue
            contract = self.env["rbm.contract"].browse(vals.get("contract_id"))
            metric = self.env["rbm.metric"].browse(vals.get("metric_id"))
            timestamp = fields.Datetime.to_datetime(vals.get("timestamp")) or datetime.now()
            vals["timestamp"] = timestamp
            if not (contract and metric):
                continue  # required fields: the ORM reports them
            error, effective = self._check_event(
                contract, metric, timestamp, open_from.get(contract), datetime.now()
            )
            if error:
                raise ValidationError(
                    _(
                        "Usage event %(key)s: %(reason)s",
                        key=vals.get("idempotency_key") or "",
                        reason=self._get_reason_messages()[error],
                    )
                )
            vals["effective_timestamp"] = effective
        self._check_archived_keys(vals_list)
        return super().create(vals_list)

    @api.model
    def _check_archived_keys(self, vals_list):
        """ValidationError naming the key when an event is created with the
        idempotency key of an event deleted after the retention period (its
        key is archived, see ``rbm.usage.daily``): it was counted already."""
        pairs = [
            (vals.get("company_id") or self.env.company.id, vals["idempotency_key"])
            for vals in vals_list
            if vals.get("idempotency_key")
        ]
        if not pairs:
            return
        companies, keys = map(list, zip(*pairs, strict=True))
        self.env.cr.execute(
            SQL(
                """
                SELECT x.k
                  FROM unnest(%s::int[], %s::varchar[]) AS x(c, k)
                  JOIN rbm_usage_key_archive a
                    ON a.company_id = x.c AND a.key_hash = md5(x.k)::uuid
                 LIMIT 1
                """,
                companies,
                keys,
            )
        )
        row = self.env.cr.fetchone()
        if row:
            raise ValidationError(
                _(
                    "Usage event %(key)s: an event with this idempotency key was already "
                    "received and invoiced (it is now counted in the daily usage totals).",
                    key=row[0],
                )
            )

    def write(self, vals):
        if any(event.state in ("rated", "invoiced") for event in self) and set(vals) & {
            "quantity",
            "timestamp",
            "contract_id",
            "metric_id",
            "properties",
        }:
            raise ValidationError(_("Invoiced usage events cannot be changed."))
        if "quantity" in vals:
            for event in self:
                self._check_quantity_value(vals["quantity"], event.idempotency_key)
        if "timestamp" in vals and "effective_timestamp" not in vals:
            vals["effective_timestamp"] = vals["timestamp"]
        return super().write(vals)

    @api.model
    def _check_quantity_value(self, quantity, key):
        """ValidationError naming the event when ``quantity`` is not a number
        from 0 to MAX_QUANTITY as the ORM stores it (the database refuses it too)."""
        if quantity is False or quantity is None:
            return  # the ORM reads it as 0 / reports the required field
        valid = quantity.__class__ is not bool and usage_input.read_quantity(quantity) is not None
        if valid:
            # as the ORM stores it: rounded to 6 decimal places in a float, which
            # near the bound can exceed it (1e12 is stored as 1000000000000.000854)
            stored = self._fields["quantity"].convert_to_column(quantity, self)
            valid = usage_input.read_quantity(str(stored)) is not None
        if not valid:
            raise ValidationError(
                _(
                    "Usage event %(key)s: the quantity %(quantity)s must be a number from 0 "
                    "to 1,000,000,000,000.",
                    key=key or _("(new)"),
                    quantity=quantity,
                )
            )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_reject(self):
        events = self.filtered(lambda e: e.state == "accepted")
        events.write({"state": "rejected", "reason": _("Rejected by %s", self.env.user.name)})
        return True

    def action_reset_to_accepted(self):
        self.filtered(lambda e: e.state == "rejected").write({"state": "accepted", "reason": False})
        return True

    @api.model
    def _set_invoice_lines_state(self, lines, old, new):
        """Move the events billed by the invoice ``lines`` from state ``old``
        to ``new``: rated (on a draft invoice) <-> invoiced (posted); one query."""
        lines = lines.filtered(lambda line: line.display_type == "product")
        if not lines.ids:
            return
        self.flush_model(["state", "invoice_line_id"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE rbm_usage SET state = %s, write_uid = %s,
                       write_date = now() AT TIME ZONE 'UTC'
                 WHERE invoice_line_id = ANY(%s) AND state = %s
                """,
                new,
                self.env.uid,
                lines.ids,
                old,
            )
        )
        if self.env.cr.rowcount:
            self.invalidate_model(["state"])

    @api.model
    def _release_invoice_lines(self, lines):
        """Give back the events billed by the invoice ``lines`` (deleted,
        cancelled or removed): state accepted, no line, so that the next
        invoice of their contract bills them (once). Set-based; a note on each
        contract says how many events were released and from which invoice."""
        # usage is billed on product lines; tax and payment term lines, which
        # invoices unlink and recreate as they change, never carry any
        lines = lines.filtered(lambda line: line.display_type == "product")
        if not lines.ids:
            return 0
        self.flush_model(["state", "invoice_line_id"])
        self.env.cr.execute(
            SQL(
                """
                WITH released AS (
                    UPDATE rbm_usage u
                       SET state = 'accepted', invoice_line_id = NULL,
                           released_line_id = old.invoice_line_id,
                           write_uid = %s, write_date = now() AT TIME ZONE 'UTC'
                      FROM (SELECT id, invoice_line_id FROM rbm_usage
                             WHERE invoice_line_id = ANY(%s) FOR UPDATE) AS old
                     WHERE u.id = old.id
                    RETURNING u.contract_id, old.invoice_line_id AS line_id
                )
                SELECT r.contract_id, l.move_id, COUNT(*)
                  FROM released r
                  JOIN account_move_line l ON l.id = r.line_id
                 GROUP BY 1, 2
                """,
                self.env.uid,
                lines.ids,
            )
        )
        rows = self.env.cr.fetchall()
        if not rows:
            return 0
        self.invalidate_model()  # invoice_id is related to invoice_line_id
        contracts_sudo = self.env["rbm.contract"].sudo()
        moves_sudo = self.env["account.move"].sudo()
        for contract_id, move_id, count in rows:
            contracts_sudo.browse(contract_id).message_post(
                body=_(
                    "%(count)s usage events of invoice %(invoice)s were released: "
                    "the next invoice bills them.",
                    count=count,
                    invoice=moves_sudo.browse(move_id).display_name,
                ),
                subtype_xmlid="mail.mt_note",
            )
        return sum(row[2] for row in rows)

    @api.model
    def _check_released_lines_reclaimable(self, lines):
        """UserError naming both invoices when events ``lines`` released (their
        invoice was cancelled) were billed by another invoice since: taking
        them back would bill them twice."""
        lines = lines.filtered(lambda line: line.display_type == "product")
        if not lines.ids:
            return
        self.flush_model(["state", "invoice_line_id", "released_line_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT released.move_id, billing.move_id
                  FROM rbm_usage u
                  JOIN account_move_line released ON released.id = u.released_line_id
                  JOIN account_move_line billing ON billing.id = u.invoice_line_id
                 WHERE u.released_line_id = ANY(%s) AND u.state IN ('rated', 'invoiced')
                 LIMIT 1
                """,
                lines.ids,
            )
        )
        conflict = self.env.cr.fetchone()
        if conflict:
            moves_sudo = self.env["account.move"].sudo().browse(conflict)
            raise UserError(
                _(
                    "Invoice %(invoice)s cannot be reset to draft: the usage it billed was "
                    "billed again by invoice %(other)s after it was cancelled. Issue a new "
                    "invoice instead.",
                    invoice=moves_sudo[0].display_name,
                    other=moves_sudo[1].display_name,
                )
            )

    @api.model
    def _reclaim_released_lines(self, lines):
        """The events ``lines`` released when their invoice was cancelled
        come back to them when it is reset to draft (rated again, on the same
        lines), so that the invoice and the next one never both bill them."""
        self._check_released_lines_reclaimable(lines)
        lines = lines.filtered(lambda line: line.display_type == "product")
        if not lines.ids:
            return 0
        self.env.cr.execute(
            SQL(
                """
                UPDATE rbm_usage
                   SET state = 'rated', invoice_line_id = released_line_id,
                       released_line_id = NULL,
                       write_uid = %s, write_date = now() AT TIME ZONE 'UTC'
                 WHERE released_line_id = ANY(%s) AND state = 'accepted'
                """,
                self.env.uid,
                lines.ids,
            )
        )
        count = self.env.cr.rowcount
        self.invalidate_model()
        return count

    # ------------------------------------------------------------
    # INGESTION
    # ------------------------------------------------------------

    @api.model
    def _get_reason_messages(self):
        """The message of each reason code (``usage_input.REASONS``)."""
        return {
            "invalid_event": _("the event must be a JSON object"),
            "missing_key": _("missing idempotency_key"),
            "bad_key": _(
                "idempotency_key must be a string of at most %(max)s characters, without NUL "
                "characters or unpaired surrogates",
                max=usage_input.MAX_KEY_LENGTH,
            ),
            "duplicate": _("an event with this idempotency key was already received"),
            "missing_metric": _("missing metric"),
            "bad_metric": _(
                "metric must be a metric code: a string of at most %(max)s characters, "
                "without NUL characters or unpaired surrogates",
                max=usage_input.MAX_CODE_LENGTH,
            ),
            "missing_contract": _("missing contract_id or contract_reference"),
            "bad_contract": _(
                "contract_id must be an integer from 1 to %(max_id)s and contract_reference "
                "a string of at most %(max)s characters, without NUL characters or unpaired "
                "surrogates",
                max_id=usage_input.MAX_CONTRACT_ID,
                max=usage_input.MAX_CODE_LENGTH,
            ),
            "bad_quantity": _(
                "quantity must be a number from 0 to 1000000000000 (a JSON number, or a "
                "decimal string of at most %(max)s characters)",
                max=usage_input.MAX_QUANTITY_TEXT,
            ),
            "bad_timestamp": _(
                "timestamp must be an ISO 8601 date and time (UTC when it has no offset), "
                "not before 2000-01-01T00:00:00Z"
            ),
            "bad_properties": _(
                "properties must be a JSON object of at most %(bytes)s bytes and %(depth)s "
                "levels, with finite numbers and strings without NUL characters or unpaired "
                "surrogates",
                bytes=usage_input.MAX_PROPERTIES_BYTES,
                depth=usage_input.MAX_PROPERTIES_DEPTH,
            ),
            "unknown_metric": _("unknown metric"),
            "unknown_contract": _("unknown contract"),
            "future_timestamp": _("timestamp is too far in the future"),
            "contract_not_active": _("the contract is not active at that time"),
            "metric_not_on_contract": _("the contract does not bill this metric"),
            "closed_period": _("the period of this timestamp is already invoiced"),
        }

    @api.model
    def _get_future_tolerance(self):
        minutes = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("rbm_metering.future_tolerance_minutes", "5")
        )
        try:
            return timedelta(minutes=int(minutes))
        except ValueError:
            return timedelta(minutes=5)

    @api.model
    def _check_event(
        self, contract, metric, timestamp, open_from, now, metric_ids=None, horizon=None
    ):
        """(error code or False, effective timestamp) of one event; ``metric_ids``:
        the metrics the contract bills (read from its lines when not given);
        ``horizon``: the latest timestamp accepted (now + the future tolerance,
        computed when not given)."""
        if horizon is None:
            horizon = now + self._get_future_tolerance()
        day_start = contract._get_usage_day_start
        date_end = contract.date_end
        if metric_ids is None:
            metric_ids = set(contract.line_ids.metric_id.ids)
        error, effective = usage_input.accept_event(
            timestamp,
            horizon,
            (metric.id, metric.late_policy == "reject"),
            (
                contract.state in USAGE_STATES,
                day_start(contract.date_start),
                day_start(date_end + timedelta(days=1)) if date_end else None,
                day_start(open_from) if open_from else None,
                # after the last invoice of an ended contract there is no next open period
                bool(date_end and open_from and open_from > date_end),
                metric_ids,
            ),
        )
        return error or False, effective

    @api.model
    def _ingest(self, company, events, source="api", api_key=None):
        """Validate and store a batch of events for ``company``, as the
        current user (their rights to create usage events are checked), with
        the ``api_key`` they were sent with.

        Returns one result per event, in order: ``{"index", "idempotency_key",
        "status": accepted|duplicate|rejected, "reason", "message"}``. Accepted
        events are stored with one INSERT ... ON CONFLICT DO NOTHING; keys the
        database already had come back as duplicates."""
        self.check_access("create")
        results, rows = self._prepare_ingestion(company, events)
        inserted = self._insert_rows(company, rows, source, api_key)
        messages = self._get_reason_messages()
        for result in results:
            if result["status"] == "accepted" and result["idempotency_key"] not in inserted:
                result.update(status="duplicate", reason="duplicate", message=messages["duplicate"])
        return results

    @api.model
    def _prepare_ingestion(self, company, events, now=None):
        """(results, rows): a result per event and the rows to insert for the valid ones.

        The form of each event (types, bounds, characters) is checked by
        :func:`usage_input.read_event`; then, set-based, the metrics, contracts
        and their open periods are read once per batch (one query each) into
        plain tuples, and every event is checked in plain Python with the same
        rules as :meth:`_check_event` (:func:`usage_input.accept_event`)."""
        now = now or datetime.now()
        messages = self._get_reason_messages()
        read_event, accept_event = usage_input.read_event, usage_input.accept_event
        parsed = [read_event(event, now) for event in events]
        codes, contract_ids, references = set(), set(), set()
        for _error, values in parsed:
            if values:
                codes.add(values[1])
                if values[2] is not None:
                    contract_ids.add(values[2])
                else:
                    references.add(values[3])
        metrics = {
            m.code: (m.id, m.late_policy == "reject")
            for m in self.env["rbm.metric"]
            .sudo()
            .search([("company_id", "=", company.id), ("code", "in", list(codes))])
        }
        by_id, by_reference = self._read_ingestion_contracts(company, contract_ids, references)
        horizon = now + self._get_future_tolerance()
        seen = set()

        def validate(values):
            """An error code, or the row tuple (key, contract, metric, quantity
            text, timestamp, effective timestamp, properties) of a valid event."""
            key, code, contract_ref, reference, quantity, timestamp, properties = values
            if key in seen:
                return "duplicate"
            metric = metrics.get(code)
            if metric is None:
                return "unknown_metric"
            if contract_ref is not None:
                contract = by_id.get(contract_ref)
                candidates = (contract,) if contract else ()
            else:
                candidates = by_reference.get(reference, ())
            if not candidates:
                return "unknown_contract"
            # the rules of _check_event, on plain values; the first contract
            # of a reference that accepts the event takes it
            error = "unknown_contract"
            for contract_id, window in candidates:
                error, effective = accept_event(timestamp, horizon, metric, window)
                if error is None:
                    return (key, contract_id, metric[0], quantity, timestamp, effective, properties)
            return error

        results, rows = [], []
        append_result, append_row = results.append, rows.append
        for index, (error, values) in enumerate(parsed):
            # the key is echoed only when it is one (a string the answer can carry)
            key = values[0] if values else None
            if values:
                error = validate(values)
            elif error not in ("invalid_event", "missing_key", "bad_key"):
                key = events[index]["idempotency_key"]
            if error.__class__ is tuple:
                seen.add(key)
                append_row(error)
                append_result({"index": index, "idempotency_key": key, "status": "accepted"})
                continue
            append_result(
                {
                    "index": index,
                    "idempotency_key": key,
                    "status": "duplicate" if error == "duplicate" else "rejected",
                    "reason": error,
                    "message": messages[error],
                }
            )
        return results, rows

    @api.model
    def _read_ingestion_contracts(self, company, contract_ids, references):
        """({id: contract}, {reference: [contract, ...]}) of ``company``, each
        contract as the plain tuple ``(id, (state allows usage, first instant
        of its service, first instant after it or None, first instant not
        invoiced yet or None, whether that is after the end, frozenset of its
        metric ids))`` (the second item as :func:`usage_input.accept_event`
        takes it), instants as naive UTC datetimes of local midnights (see
        ``rbm.contract._get_usage_tz``); one query."""
        if not contract_ids and not references:
            return {}, {}
        for model in ("rbm.contract", "rbm.contract.line", "rbm.plan", "res.partner"):
            self.env[model].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT c.id, c.reference, c.state, c.date_start, c.date_end,
                       c.next_period_start, c.period_anchor, p.billing_mode,
                       ARRAY(SELECT l.metric_id FROM rbm_contract_line l
                              WHERE l.contract_id = c.id AND l.metric_id IS NOT NULL),
                       COALESCE(NULLIF(rp.tz, ''), NULLIF(cp.tz, ''), 'UTC')
                  FROM rbm_contract c
                  LEFT JOIN rbm_plan p ON p.id = c.plan_id
                  JOIN res_partner rp ON rp.id = c.partner_id
                  JOIN res_company co ON co.id = c.company_id
                  LEFT JOIN res_partner cp ON cp.id = co.partner_id
                 WHERE c.company_id = %(company)s
                   AND (c.id = ANY(%(ids)s) OR c.reference = ANY(%(refs)s))
                 ORDER BY c.id
                """,
                company=company.id,
                ids=list(contract_ids),
                refs=list(references),
            )
        )
        contracts_sudo = self.env["rbm.contract"].sudo().with_company(company)
        by_id, by_reference = {}, defaultdict(list)
        for (
            cid,
            reference,
            state,
            date_start,
            date_end,
            start,
            anchor,
            mode,
            metric_ids,
            tz,
        ) in self.env.cr.fetchall():
            # _get_usage_open_from, without the ORM for the common cases
            if not start or not anchor:
                open_from = False
            elif mode == "arrears":
                open_from = start
            else:
                open_from = contracts_sudo.browse(cid)._get_usage_open_from()
            day_start = rating.day_start_utc
            contract = (
                cid,
                (
                    state in USAGE_STATES,
                    day_start(date_start, tz),
                    day_start(date_end + timedelta(days=1), tz) if date_end else None,
                    day_start(open_from, tz) if open_from else None,
                    bool(date_end and open_from and open_from > date_end),
                    frozenset(metric_ids),
                ),
            )
            if cid in contract_ids:
                by_id[cid] = contract
            if reference in references:
                by_reference[reference].append(contract)
        return by_id, by_reference

    @api.model
    def _insert_rows(self, company, rows, source, api_key=None):
        """Bulk insert; returns the set of keys actually inserted (new ones)."""
        if not rows:
            return set()
        # one order for every client: overlapping concurrent batches then wait
        # on each other's keys in the same order instead of deadlocking
        rows = sorted(rows, key=lambda row: row[0])
        keys, contracts, metrics, quantities, timestamps, effectives, props = map(
            list, zip(*rows, strict=True)
        )
        if company.rbm_usage_retention_months:
            # after any purge batch of the company: its archived keys are seen
            self.env["rbm.usage.daily"]._lock_purge(company)
        # a key of an event deleted after the retention period is archived:
        # still a duplicate
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO rbm_usage (
                    company_id, idempotency_key, contract_id, metric_id, quantity, timestamp,
                    effective_timestamp, properties, state, source, api_key_id,
                    create_uid, create_date, write_uid, write_date)
                SELECT %(company)s, x.k, x.c, x.m, x.q, x.t, x.e, x.p::jsonb, 'accepted',
                       %(source)s, %(api_key)s, %(uid)s, now() AT TIME ZONE 'UTC',
                       %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM unnest(%(keys)s::varchar[], %(contracts)s::int[], %(metrics)s::int[],
                              %(quantities)s::numeric[], %(timestamps)s::timestamp[],
                              %(effectives)s::timestamp[], %(props)s::text[])
                       AS x(k, c, m, q, t, e, p)
                 WHERE NOT EXISTS (SELECT 1 FROM rbm_usage_key_archive a
                                    WHERE a.company_id = %(company)s
                                      AND a.key_hash = md5(x.k)::uuid)
                ON CONFLICT (company_id, idempotency_key) DO NOTHING
                RETURNING idempotency_key
                """,
                company=company.id,
                source=source,
                api_key=api_key.id if api_key else None,
                uid=self.env.uid,
                keys=keys,
                contracts=contracts,
                metrics=metrics,
                quantities=quantities,
                timestamps=timestamps,
                effectives=effectives,
                props=props,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}
