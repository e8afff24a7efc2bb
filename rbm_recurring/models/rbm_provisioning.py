"""Provisioning: contract events delivered to external systems.

Every state or plan change of a contract writes one ``rbm.provisioning.event``
row per interested endpoint (an outbox, in the same transaction as the change).
The cron ``_cron_deliver`` later POSTs each row to its endpoint, so a slow or
dead endpoint never blocks billing or the user's action.

Delivery
========

``POST <endpoint URL>`` with the event's payload as the JSON body and::

    Content-Type: application/json
    X-RBM-Event: activated                  (the event type)
    X-RBM-Delivery: 4211                    (the event id; the same on every retry)
    X-RBM-Timestamp: 1793612400             (Unix time of this attempt, in seconds)
    X-RBM-Signature: sha256=<hex digest>

Any 2xx answer marks the event delivered. Anything else (another status, a
connection error, no answer within the endpoint's timeout) is retried after
60 s, 120 s, 240 s... (doubling, at most 24 h) until the endpoint's maximum
number of tries, then the event becomes a dead letter, listed in
Subscriptions > Configuration > Provisioning Events until someone retries it.
Delivery is at least once: a receiver deduplicates on ``X-RBM-Delivery``.

Signature
=========

``X-RBM-Signature`` is ``sha256=`` followed by the lowercase hex HMAC-SHA256 of
``<X-RBM-Timestamp>.<raw request body>`` (the timestamp, a dot, then the body
bytes exactly as received, UTF-8 JSON), keyed with the endpoint's secret. A
receiver checks it like this::

    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    valid = hmac.compare_digest(f"sha256={expected}", signature_header)

and rejects timestamps more than a few minutes old, so that a captured request
cannot be replayed later.

Outbound guard
==============

Endpoint URLs are typed in by managers, and the server calls them: without a
guard, an endpoint could make the server reach its own network (a database
admin page, a cloud metadata service). An endpoint URL must be ``https://``
(plain ``http://`` only when the system parameter
``rbm_recurring.outbound_allow_http`` is ``1``) and its host must be, or resolve
to, public internet addresses only: loopback, private, shared, link-local,
multicast, reserved and unspecified addresses are refused unless listed in the
system parameter ``rbm_recurring.outbound_allowed_networks`` (CIDR blocks,
comma-separated, e.g. ``10.20.0.0/16, fd00::/8``). The URL is checked when the
endpoint is saved and again at every delivery (DNS answers change), and each
connection checks the address it actually reached (``engine/url_guard.py``).
The reply is read up to ``REPLY_MAX_BYTES``, the whole exchange is cut at twice
the endpoint's timeout (a server answering byte by byte never resets it), and
the reply is kept truncated, visible to managers only.
"""

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta
from urllib.parse import urlparse

import psycopg2
import requests

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from ..engine import url_guard
from ..tools import auto_commit_allowed, check_staff_access

_logger = logging.getLogger(__name__)

EVENT_TYPES = [
    ("trial_started", "Trial started"),
    ("activated", "Activated"),
    ("suspended", "Suspended"),
    ("reactivated", "Reactivated"),
    ("cancelled", "Cancelled"),
    ("expired", "Expired"),
    ("closed", "Closed"),
    ("plan_changed", "Plan changed"),
    ("renewed", "Renewed"),
    ("pix_authorization_created", "Pix Automático authorization created"),
    ("pix_authorization_approved", "Pix Automático authorization approved"),
    ("pix_authorization_rejected", "Pix Automático authorization rejected"),
    ("pix_authorization_expired", "Pix Automático authorization expired"),
    ("pix_authorization_cancelled", "Pix Automático authorization cancelled"),
]

# first retry after this many seconds, then doubling up to RETRY_MAX_DELAY
RETRY_BASE_DELAY = 60
RETRY_MAX_DELAY = 24 * 3600
# a cron call stops taking new events after this many seconds (worker time limits)
DELIVERY_TIME_BUDGET = 60
# delivered events older than this are deleted by the daily vacuum (0: keep them)
DEFAULT_RETENTION_DAYS = 90
# the reply of an endpoint is read up to this many bytes, and this much of it is kept
REPLY_MAX_BYTES = 16 * 1024
REPLY_EXCERPT = 1000
# system parameters of the outbound guard (see the module docstring)
ALLOW_HTTP_PARAM = "rbm_recurring.outbound_allow_http"
ALLOWED_NETWORKS_PARAM = "rbm_recurring.outbound_allowed_networks"


def sign_payload(secret, timestamp, body):
    """Hex HMAC-SHA256 of ``b"<timestamp>." + body`` keyed with ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class RbmProvisioningEndpoint(models.Model):
    _name = "rbm.provisioning.endpoint"
    _description = "Provisioning Endpoint"
    _order = "name, id"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(required=True)
    url = fields.Char(
        string="URL",
        required=True,
        help="Address the events are POSTed to (http:// or https://).",
    )
    secret = fields.Char(
        required=True,
        copy=False,
        default=lambda self: secrets.token_hex(32),
        groups="rbm_recurring.rbm_recurring_group_manager",
        help="Key of the HMAC-SHA256 signature sent in the X-RBM-Signature header; "
        "the receiving system needs it to check that a request comes from us.",
    )
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        index=True,
        help="Only contracts of this company; empty: every company.",
    )
    plan_ids = fields.Many2many(
        "rbm.plan",
        "rbm_provisioning_endpoint_plan_rel",
        "endpoint_id",
        "plan_id",
        string="Plans",
        check_company=True,
        help="Only contracts on one of these plans; empty: every plan.",
    )
    product_ids = fields.Many2many(
        "product.product",
        "rbm_provisioning_endpoint_product_rel",
        "endpoint_id",
        "product_id",
        string="Products",
        check_company=True,
        help="Only contracts with one of these products in their lines; empty: every product.",
    )
    event_types = fields.Char(
        help="Comma-separated events to send, empty: all. Events: "
        + ", ".join(code for code, _label in EVENT_TYPES)
        + ".",
    )
    max_tries = fields.Integer(
        string="Maximum Tries",
        required=True,
        default=8,
        help="After this many failed tries an event becomes a dead letter.",
    )
    timeout = fields.Integer(
        string="Timeout (seconds)",
        required=True,
        default=10,
        help="A try fails when the endpoint has not answered within this time.",
    )
    event_ids = fields.One2many("rbm.provisioning.event", "endpoint_id", string="Events")
    event_count = fields.Integer(compute="_compute_event_count")

    _sql_constraints = [
        ("max_tries_positive", "CHECK(max_tries > 0)", "An endpoint needs at least one try."),
        (
            "timeout_range",
            "CHECK(timeout BETWEEN 1 AND 60)",
            "The timeout must be between 1 and 60 seconds.",
        ),
    ]

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    def _compute_event_count(self):
        data = self.env["rbm.provisioning.event"]._read_group(
            [("endpoint_id", "in", self.ids)], ["endpoint_id"], ["__count"]
        )
        counts = {endpoint.id: count for endpoint, count in data}
        for endpoint in self:
            endpoint.event_count = counts.get(endpoint.id, 0)

    # ------------------------------------------------------------
    # CONSTRAINT METHODS
    # ------------------------------------------------------------

    @api.constrains("url")
    def _check_url(self):
        """Refuse a URL the server may not call (scheme, plain http, a host
        that is or resolves to a non-public address). A name that does not
        resolve yet is accepted: it is checked again at every delivery."""
        for endpoint in self:
            message = endpoint._get_url_refusal(resolve_errors=False)
            if message:
                raise ValidationError(message)

    @api.constrains("event_types")
    def _check_event_types(self):
        known = dict(EVENT_TYPES)
        for endpoint in self:
            unknown = endpoint._get_event_type_set() - set(known)
            if unknown:
                raise ValidationError(
                    _(
                        "Endpoint %(endpoint)s: unknown event types %(unknown)s (field Event "
                        "Types). Use a comma-separated list of: %(known)s.",
                        endpoint=endpoint.display_name,
                        unknown=", ".join(sorted(unknown)),
                        known=", ".join(known),
                    )
                )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_events(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "rbm_recurring.rbm_provisioning_event_action"
        )
        action["domain"] = [("endpoint_id", "=", self.id)]
        return action

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    @api.model
    def _get_outbound_guard(self):
        """``(allowed networks, whether plain http is allowed)`` from the
        system parameters of the outbound guard."""
        icp_sudo = self.env["ir.config_parameter"].sudo()
        networks, invalid = url_guard.parse_networks(icp_sudo.get_param(ALLOWED_NETWORKS_PARAM))
        if invalid:
            _logger.warning(
                "System parameter %s: ignored entries that are not networks: %s",
                ALLOWED_NETWORKS_PARAM,
                ", ".join(invalid),
            )
        allow_http = (icp_sudo.get_param(ALLOW_HTTP_PARAM) or "").strip().lower() in (
            "1",
            "true",
            "yes",
        )
        return networks, allow_http

    def _get_url_refusal(self, resolve_errors=True):
        """Why this endpoint's URL may not be called now, as a message for
        people naming the endpoint and the field; ``False`` when it may.

        :param bool resolve_errors: whether a host name that does not resolve
            is a refusal (at delivery) or not (when saving)
        """
        self.ensure_one()
        networks, allow_http = self._get_outbound_guard()
        try:
            url_guard.check_url(self.url, networks, allow_http)
        except url_guard.UrlRefused as refused:
            return self._describe_refusal(refused)
        except OSError as error:
            if not resolve_errors:
                return False
            return _(
                "Endpoint %(endpoint)s: the host of the URL could not be resolved (field URL): "
                "%(error)s",
                endpoint=self.display_name,
                error=error,
            )
        return False

    def _describe_refusal(self, refused):
        self.ensure_one()
        if refused.reason in ("scheme", "host"):
            return _(
                "Endpoint %(endpoint)s: the URL must start with http:// or https:// "
                "followed by a host name (field URL).",
                endpoint=self.display_name,
            )
        if refused.reason == "http":
            return _(
                "Endpoint %(endpoint)s: plain http:// is not allowed, use https:// (field URL). "
                "A test server without TLS can be allowed with the system parameter "
                "%(param)s = 1.",
                endpoint=self.display_name,
                param=ALLOW_HTTP_PARAM,
            )
        kinds = {
            url_guard.LOOPBACK: _("a loopback address"),
            url_guard.PRIVATE: _("a private address"),
            url_guard.LINK_LOCAL: _("a link-local address"),
            url_guard.MULTICAST: _("a multicast address"),
            url_guard.UNSPECIFIED: _("an unspecified address"),
            url_guard.RESERVED: _("a reserved address"),
        }
        return _(
            "Endpoint %(endpoint)s: the host of the URL is or resolves to %(address)s, "
            "%(kind)s, which may not be called (field URL). Use a public address, or add the "
            "network to the system parameter %(param)s.",
            endpoint=self.display_name,
            address=refused.address,
            kind=kinds.get(refused.reason, _("a non-public address")),
            param=ALLOWED_NETWORKS_PARAM,
        )

    def _get_event_type_set(self):
        """The event types this endpoint receives; empty: all of them."""
        self.ensure_one()
        return {code.strip() for code in (self.event_types or "").split(",") if code.strip()}

    def _is_interested(self, event_type, company, plan_ids, product_ids):
        """Whether an event of a contract of ``company``, on one of ``plan_ids``
        and selling ``product_ids``, goes to this endpoint: every filter that is
        set must match."""
        self.ensure_one()
        event_types = self._get_event_type_set()
        if event_types and event_type not in event_types:
            return False
        if self.company_id and self.company_id != company:
            return False
        if self.plan_ids and not set(self.plan_ids.ids) & plan_ids:
            return False
        if self.product_ids and not set(self.product_ids.ids) & product_ids:
            return False
        return True


class RbmProvisioningEvent(models.Model):
    _name = "rbm.provisioning.event"
    _description = "Provisioning Event"
    _order = "id desc"

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    endpoint_id = fields.Many2one(
        "rbm.provisioning.endpoint",
        required=True,
        readonly=True,
        ondelete="cascade",
        index=True,
    )
    contract_id = fields.Many2one(
        "rbm.contract", required=True, readonly=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="contract_id.company_id", store=True, index=True)
    event_type = fields.Selection(EVENT_TYPES, string="Event", required=True, readonly=True)
    payload = fields.Text(
        readonly=True,
        help="JSON body sent to the endpoint: the contract as it was when the event occurred.",
    )
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("done", "Delivered"),
            ("failed", "Failed"),
            ("dead", "Dead Letter"),
        ],
        required=True,
        readonly=True,
        default="pending",
        help="Failed: will be retried at the next try date. Dead letter: gave up after the "
        "endpoint's maximum number of tries; use Retry once the endpoint works again.",
    )
    tries = fields.Integer(readonly=True)
    next_try_at = fields.Datetime(
        string="Next Try", readonly=True, default=fields.Datetime.now, copy=False
    )
    last_error = fields.Text(readonly=True, copy=False)
    last_response = fields.Text(
        string="Last Reply",
        readonly=True,
        copy=False,
        groups="rbm_recurring.rbm_recurring_group_manager",
        help="The beginning of the endpoint's last answer (truncated).",
    )
    last_status_code = fields.Integer(string="Last HTTP Status", readonly=True, copy=False)
    delivered_at = fields.Datetime(string="Delivered On", readonly=True, copy=False)

    def init(self):
        create_index(
            self.env.cr,
            "rbm_provisioning_event_state_next_try_at_index",
            self._table,
            ["state", "next_try_at"],
        )

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    @api.depends("contract_id.name", "event_type", "endpoint_id.name")
    def _compute_display_name(self):
        labels = dict(self._fields["event_type"]._description_selection(self.env))
        for event in self:
            event.display_name = _(
                "%(contract)s: %(event)s to %(endpoint)s",
                contract=event.contract_id.name or "",
                event=labels.get(event.event_type, ""),
                endpoint=event.endpoint_id.name or "",
            )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_retry(self):
        """Send failed and dead events again at the next cron run, with a fresh
        series of tries."""
        check_staff_access(self, "write")
        events = self.filtered(lambda event: event.state in ("failed", "dead"))
        if events:
            events.write({"state": "pending", "tries": 0, "next_try_at": fields.Datetime.now()})
            self._trigger_delivery()
        return True

    # ------------------------------------------------------------
    # EMITTING
    # ------------------------------------------------------------

    @api.model
    def _emit(self, contracts, event_type, previous=None):
        """Queue ``event_type`` of ``contracts`` for every active endpoint that
        wants it: one pending event per (contract, endpoint), its payload a
        snapshot of the contract taken now. Sends nothing: ``_cron_deliver``
        does, so this never fails because of an endpoint.

        :param contracts: ``rbm.contract`` records
        :param str event_type: one of ``EVENT_TYPES``
        :param dict previous: optional ``{contract id: _prepare_contract_snapshot()}``
            taken before a plan or line change; the endpoints of the previous
            plan and products are notified too (so they can deprovision), and
            the payload gets a ``previous`` key
        :return: the events created (``rbm.provisioning.event``)
        """
        if event_type not in dict(EVENT_TYPES):
            raise ValueError(f"Unknown provisioning event type {event_type!r}")
        previous = previous or {}
        endpoints_sudo = self.env["rbm.provisioning.endpoint"].sudo().search([])
        if not contracts or not endpoints_sudo:
            return self.browse()
        occurred_at = fields.Datetime.now()
        vals_list = []
        payloads = []
        for contract_sudo in contracts.sudo():
            snapshot = self._prepare_contract_snapshot(contract_sudo)
            before = previous.get(contract_sudo.id)
            plan_ids, product_ids = self._get_snapshot_ids(snapshot)
            if before:
                before_plan_ids, before_product_ids = self._get_snapshot_ids(before)
                plan_ids |= before_plan_ids
                product_ids |= before_product_ids
            payload = self._prepare_payload(event_type, occurred_at, snapshot, before)
            for endpoint_sudo in endpoints_sudo:
                if endpoint_sudo._is_interested(
                    event_type, contract_sudo.company_id, plan_ids, product_ids
                ):
                    vals_list.append(
                        {
                            "endpoint_id": endpoint_sudo.id,
                            "contract_id": contract_sudo.id,
                            "event_type": event_type,
                            "next_try_at": occurred_at,
                        }
                    )
                    payloads.append(payload)
        if not vals_list:
            return self.browse()
        events_sudo = self.sudo().create(vals_list)
        for event_sudo, payload in zip(events_sudo, payloads, strict=True):
            event_sudo.payload = json.dumps({"id": event_sudo.id, **payload}, ensure_ascii=False)
        self._trigger_delivery()
        return events_sudo.with_env(self.env)

    @api.model
    def _prepare_contract_snapshot(self, contract):
        """The contract as sent to endpoints: what it sells, to whom, and in
        which state. Names in the company's language."""
        lang = contract.company_id.partner_id.lang
        contract = contract.with_context(lang=lang) if lang else contract
        partner = contract.partner_id
        plan = contract.plan_id
        return {
            "contract": {
                "id": contract.id,
                "name": contract.name,
                "reference": contract.reference or None,
                "date_start": contract.date_start.isoformat() if contract.date_start else None,
                "date_end": contract.date_end.isoformat() if contract.date_end else None,
            },
            "state": contract.state,
            "customer": {
                "id": partner.id,
                "name": partner.name,
                "vat": partner.vat or None,
                "email": partner.email or None,
            },
            "plan": {"id": plan.id, "name": plan.name, "code": plan.code or None},
            "lines": [
                {
                    "product": {
                        "id": line.product_id.id,
                        "default_code": line.product_id.default_code or None,
                        "name": line.product_id.name,
                    },
                    "quantity": line.quantity,
                    "price_unit": line.price_unit,
                    "line_type": line.line_type,
                }
                for line in contract.line_ids
            ],
        }

    @api.model
    def _prepare_payload(self, event_type, occurred_at, snapshot, previous=None):
        payload = {
            "event": event_type,
            "occurred_at": occurred_at.replace(microsecond=0).isoformat() + "Z",
            **snapshot,
        }
        if previous:
            payload["previous"] = {
                key: previous[key] for key in ("state", "plan", "lines") if key in previous
            }
        return payload

    @api.model
    def _get_snapshot_ids(self, snapshot):
        plan_ids = {snapshot["plan"]["id"]} if snapshot.get("plan", {}).get("id") else set()
        product_ids = {line["product"]["id"] for line in snapshot.get("lines", [])}
        return plan_ids, product_ids

    def _trigger_delivery(self):
        cron = self.env.ref(
            "rbm_recurring.ir_cron_rbm_provisioning_deliver", raise_if_not_found=False
        )
        if cron:
            cron._trigger()

    # ------------------------------------------------------------
    # DELIVERY
    # ------------------------------------------------------------

    @api.model
    def _get_due_domain(self, now):
        return [
            ("state", "in", ("pending", "failed")),
            ("next_try_at", "<=", now),
            ("endpoint_id.active", "=", True),
        ]

    @api.model
    def _cron_deliver(self, batch_size=50):
        """POST due events to their endpoints, one event at a time: each is
        locked (``FOR UPDATE SKIP LOCKED``, so two workers never send the same
        event), sent, and its outcome committed before the next. Only outbox rows
        are locked, never contracts. An endpoint that cannot be reached is left
        alone for the rest of the call so that it does not slow the others."""
        auto_commit = auto_commit_allowed()
        deadline = time.monotonic() + DELIVERY_TIME_BUDGET
        done = 0
        seen_ids, unreachable_ids = [], []
        while done < batch_size and time.monotonic() < deadline:
            event = self._lock_next_due_event(seen_ids, unreachable_ids)
            if not event:
                break
            seen_ids.append(event.id)
            if event._deliver() == "unreachable":
                unreachable_ids.append(event.endpoint_id.id)
            done += 1
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        remaining = self.search_count(self._get_due_domain(fields.Datetime.now()))
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if remaining and done:
            self._trigger_delivery()
        return done

    @api.model
    def _lock_next_due_event(self, exclude_ids=(), exclude_endpoint_ids=()):
        """Lock and return the next event to send, skipping those another
        worker is sending; an empty recordset when none is due."""
        self.flush_model(["state", "next_try_at", "endpoint_id"])
        self.env["rbm.provisioning.endpoint"].flush_model(["active"])
        query = SQL(
            """
            SELECT event.id
              FROM rbm_provisioning_event event
              JOIN rbm_provisioning_endpoint endpoint ON endpoint.id = event.endpoint_id
             WHERE event.state IN ('pending', 'failed')
               AND event.next_try_at <= %s
               AND endpoint.active
               AND event.id != ALL(%s::integer[])
               AND event.endpoint_id != ALL(%s::integer[])
             ORDER BY event.next_try_at, event.id
             LIMIT 1
               FOR UPDATE OF event SKIP LOCKED
            """,
            fields.Datetime.now(),
            list(exclude_ids),
            list(exclude_endpoint_ids),
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query)
                row = self.env.cr.fetchone()
        except psycopg2.OperationalError as error:
            # e.g. updated by another transaction since ours started: next run
            _logger.info("Provisioning delivery: could not lock the next event: %s", error)
            return self.browse()
        if not row:
            return self.browse()
        event = self.browse(row[0])
        event.invalidate_recordset()
        return event

    def _prepare_headers(self, secret, timestamp, body):
        self.ensure_one()
        return {
            "Content-Type": "application/json",
            "User-Agent": "RBM-Provisioning/1.0",
            "X-RBM-Event": self.event_type,
            "X-RBM-Delivery": str(self.id),
            "X-RBM-Timestamp": str(timestamp),
            "X-RBM-Signature": f"sha256={sign_payload(secret, timestamp, body)}",
        }

    def _deliver(self):
        """POST this event to its endpoint once and record the outcome. Never
        raises. The URL is checked again first (its host may resolve elsewhere
        since it was saved), the connection only goes to the addresses the
        guard allows, and the reply is read up to ``REPLY_MAX_BYTES`` within
        twice the endpoint's timeout.

        :return: ``"done"``, ``"failed"`` (the endpoint answered, but not with a
            2xx status) or ``"unreachable"`` (refused by the guard, connection
            error or timeout)
        """
        self.ensure_one()
        endpoint_sudo = self.endpoint_id.sudo()
        body = (self.payload or "{}").encode()
        timestamp = int(time.time())
        status_code, error, reply, outcome = 0, False, False, "failed"
        refusal = endpoint_sudo._get_url_refusal()
        if refusal:
            outcome, error = "unreachable", refusal
        else:
            outcome, status_code, error, reply = self._post(endpoint_sudo, body, timestamp)
        try:
            with self.env.cr.savepoint():
                self.write(self._prepare_attempt_vals(status_code, error, reply))
        except Exception:
            _logger.exception("Provisioning event %s: could not record the delivery", self.id)
            self.invalidate_recordset()
        host = urlparse(endpoint_sudo.url or "").hostname
        if error and self.state == "dead":
            _logger.warning(
                "Provisioning event %s to endpoint %s (%s) is a dead letter after %s tries: %s",
                self.id,
                endpoint_sudo.id,
                host,
                self.tries,
                error,
            )
        elif error:
            _logger.info(
                "Provisioning event %s to endpoint %s (%s) failed (try %s): %s",
                self.id,
                endpoint_sudo.id,
                host,
                self.tries,
                error,
            )
        return outcome

    def _post(self, endpoint_sudo, body, timestamp):
        """Send the request through the outbound guard; no database access.

        :return: ``(outcome, status code, error or False, reply excerpt or False)``
        """
        self.ensure_one()
        networks, _allow_http = endpoint_sudo._get_outbound_guard()
        # each wait is bounded by the timeout, the whole exchange by twice it
        deadline = time.monotonic() + 2 * endpoint_sudo.timeout
        try:
            with url_guard.guarded_session(networks, deadline) as session:
                response = session.post(
                    endpoint_sudo.url,
                    data=body,
                    headers=self._prepare_headers(endpoint_sudo.secret, timestamp, body),
                    timeout=endpoint_sudo.timeout,
                    allow_redirects=False,
                    stream=True,
                )
                with response:
                    data, truncated = url_guard.read_limited(response, REPLY_MAX_BYTES, deadline)
        except url_guard.UrlRefused as refused:
            return "unreachable", 0, endpoint_sudo._describe_refusal(refused), False
        except (requests.ConnectionError, requests.Timeout) as exc:
            return "unreachable", 0, f"{type(exc).__name__}: {exc}", False
        except Exception as exc:  # noqa: BLE001 - a bad endpoint must never stop the batch
            return "failed", 0, f"{type(exc).__name__}: {exc}", False
        reply = data.decode(errors="replace")[:REPLY_EXCERPT]
        if truncated or len(data) > REPLY_EXCERPT:
            reply += " [...]"
        if 200 <= response.status_code < 300:
            return "done", response.status_code, False, reply
        return "failed", response.status_code, f"HTTP {response.status_code}", reply

    def _prepare_attempt_vals(self, status_code, error, reply=False):
        """Values recording one try: delivered, failed with the next try date,
        or dead after the endpoint's maximum number of tries."""
        self.ensure_one()
        now = fields.Datetime.now()
        tries = self.tries + 1
        vals = {"tries": tries, "last_status_code": status_code, "last_response": reply}
        if not error:
            vals.update(state="done", delivered_at=now, last_error=False)
        elif tries >= self.endpoint_id.sudo().max_tries:
            vals.update(state="dead", last_error=error)
        else:
            vals.update(
                state="failed",
                last_error=error,
                next_try_at=now + timedelta(seconds=self._get_retry_delay(tries)),
            )
        return vals

    @api.model
    def _get_retry_delay(self, tries):
        """Seconds to wait after the ``tries``-th failed try: 60, 120, 240...
        at most a day."""
        return min(RETRY_BASE_DELAY * 2 ** (tries - 1), RETRY_MAX_DELAY)

    @api.autovacuum
    def _gc_delivered_events(self):
        """Delete delivered events after the retention period (system parameter
        ``rbm_recurring.provisioning_retention_days``, 0 keeps them)."""
        days = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("rbm_recurring.provisioning_retention_days", DEFAULT_RETENTION_DAYS)
        )
        if days > 0:
            limit = fields.Datetime.now() - timedelta(days=days)
            self.sudo().search(
                [("state", "=", "done"), ("delivered_at", "<", limit)], limit=10000
            ).unlink()
