import logging
from decimal import Decimal, InvalidOperation

import requests
from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_compare
from odoo.tools.misc import format_date

from ..engine import money, periods
from ..tools import check_staff_access

_logger = logging.getLogger(__name__)

SGS_BASE_URL_PARAM = "rbm_recurring.sgs_base_url"
SGS_DEFAULT_BASE_URL = "https://api.bcb.gov.br"
# seconds; a scalar so that the test suite's request guard can read it
SGS_TIMEOUT = 20
# months fetched by the import button and the cron: enough for one adjustment
# window plus the revisions the publisher may make to recent months
SGS_IMPORT_MONTHS = 24
VALUE_DIGITS = 4


class RbmPriceIndex(models.Model):
    _name = "rbm.price.index"
    _description = "Price Index"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    code = fields.Selection(
        [("IPCA", "IPCA"), ("IGPM", "IGP-M"), ("INPC", "INPC"), ("custom", "Custom")],
        required=True,
        default="custom",
        tracking=True,
    )
    sgs_code = fields.Integer(
        string="SGS Series",
        tracking=True,
        help="Number of the monthly % series in the Banco Central SGS "
        "(433 IPCA, 189 IGP-M, 188 INPC). Empty: values are typed in.",
    )
    value_ids = fields.One2many("rbm.price.index.value", "index_id", string="Monthly Values")
    value_count = fields.Integer(compute="_compute_last_month")
    last_month = fields.Date(
        string="Last Published Month",
        compute="_compute_last_month",
        help="Latest month with a value.",
    )

    _sql_constraints = [
        ("sgs_code_positive", "CHECK(sgs_code >= 0)", "The SGS series must be a positive number."),
    ]

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    @api.depends("value_ids.month")
    def _compute_last_month(self):
        data = self.env["rbm.price.index.value"]._read_group(
            [("index_id", "in", self.ids)], ["index_id"], ["month:max", "__count"]
        )
        by_index = {index: (month, count) for index, month, count in data}
        for index in self:
            index.last_month, index.value_count = by_index.get(index._origin, (False, 0))

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_import_sgs(self):
        """Button: import the last months of each index from the Banco Central."""
        check_staff_access(self, "write")
        indices = self.filtered("sgs_code")
        if not indices:
            raise UserError(
                _("Set the SGS series of the index first (field SGS Series), e.g. 433 for IPCA.")
            )
        messages = []
        for index in indices:
            counts = index._import_sgs()
            messages.append(
                _(
                    "%(index)s: %(created)s new, %(updated)s revised, %(unchanged)s unchanged.",
                    index=index.display_name,
                    created=counts["created"],
                    updated=counts["updated"],
                    unchanged=counts["unchanged"],
                )
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Imported from the Banco Central"),
                "message": "\n".join(messages),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_view_values(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("%(index)s values", index=self.display_name),
            "res_model": "rbm.price.index.value",
            "view_mode": "list",
            "domain": [("index_id", "=", self.id)],
            "context": {"default_index_id": self.id},
        }

    # ------------------------------------------------------------
    # VALUES
    # ------------------------------------------------------------

    def _get_values(self, months):
        """{month: Decimal monthly %} for the given first-of-month dates that have a value."""
        self.ensure_one()
        records = self.env["rbm.price.index.value"].search(
            [("index_id", "=", self.id), ("month", "in", list(months))]
        )
        return {record.month: money.fixed(record.value, VALUE_DIGITS) for record in records}

    def _store_values(self, values, source="sgs"):
        """Insert or update ``{month: value}``; a value that did not change is
        left alone, so importing twice writes nothing the second time."""
        self.ensure_one()
        value_model = self.env["rbm.price.index.value"]
        existing = {
            record.month: record
            for record in value_model.search(
                [("index_id", "=", self.id), ("month", "in", list(values))]
            )
        }
        to_create = []
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for month, value in sorted(values.items()):
            value = float(value)
            record = existing.get(month)
            if not record:
                to_create.append(
                    {"index_id": self.id, "month": month, "value": value, "source": source}
                )
            elif float_compare(record.value, value, precision_digits=VALUE_DIGITS):
                record.write({"value": value, "source": source})
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        value_model.create(to_create)
        counts["created"] = len(to_create)
        return counts

    # ------------------------------------------------------------
    # BANCO CENTRAL SGS
    # ------------------------------------------------------------

    def _get_sgs_url(self, date_from, date_to):
        self.ensure_one()
        base = (
            self.env["ir.config_parameter"].sudo().get_param(SGS_BASE_URL_PARAM)
            or SGS_DEFAULT_BASE_URL
        )
        return (
            f"{base.rstrip('/')}/dados/serie/bcdata.sgs.{self.sgs_code}/dados"
            f"?formato=json&dataInicial={periods.format_br_date(date_from)}"
            f"&dataFinal={periods.format_br_date(date_to)}"
        )

    def _import_sgs(self, date_from=None, date_to=None):
        """Fetch the series from the SGS, check every row, then store them all.
        Raises ``UserError`` naming the index and the problem; nothing is
        stored unless the whole answer is good."""
        self.ensure_one()
        if not self.sgs_code:
            raise UserError(
                _("Index %(index)s has no SGS series to import.", index=self.display_name)
            )
        date_to = date_to or fields.Date.context_today(self)
        date_from = date_from or (
            date_to.replace(day=1) - relativedelta(months=SGS_IMPORT_MONTHS - 1)
        )
        payload = self._fetch_sgs(date_from, date_to)
        values = self._parse_sgs_payload(payload)
        counts = self._store_values(values, source="sgs")
        _logger.info("Price index %s imported from SGS: %s", self.display_name, counts)
        return counts

    def _fetch_sgs(self, date_from, date_to):
        """The decoded JSON answer of the SGS for the period (no database write)."""
        self.ensure_one()
        url = self._get_sgs_url(date_from, date_to)
        try:
            response = requests.get(
                url, timeout=SGS_TIMEOUT, headers={"Accept": "application/json"}
            )
        except requests.Timeout as error:
            raise UserError(
                _(
                    "Index %(index)s: the Banco Central SGS service did not answer in time "
                    "(%(url)s). Try again later.",
                    index=self.display_name,
                    url=url,
                )
            ) from error
        except requests.RequestException as error:
            raise UserError(
                _(
                    "Index %(index)s: the Banco Central SGS service could not be reached "
                    "(%(url)s): %(error)s",
                    index=self.display_name,
                    url=url,
                    error=error,
                )
            ) from error
        if response.status_code != 200:
            raise UserError(
                _(
                    "Index %(index)s: the Banco Central SGS service answered HTTP %(status)s "
                    "(%(url)s): %(body)s",
                    index=self.display_name,
                    status=response.status_code,
                    url=url,
                    body=_shorten(response.text),
                )
            )
        try:
            return response.json()
        except ValueError as error:
            raise UserError(
                _(
                    "Index %(index)s: the Banco Central SGS service did not answer JSON "
                    "(%(url)s); the answer starts with: %(body)s",
                    index=self.display_name,
                    url=url,
                    body=_shorten(response.text),
                )
            ) from error

    def _parse_sgs_payload(self, payload):
        """``{first day of month: Decimal %}`` from an SGS answer
        ``[{"data": "dd/mm/aaaa", "valor": "0.44"}, ...]``; every row is checked."""
        self.ensure_one()
        if not isinstance(payload, list):
            raise UserError(
                _(
                    "Index %(index)s: the Banco Central SGS answer is not a list of values: "
                    "%(answer)s",
                    index=self.display_name,
                    answer=_shorten(repr(payload)),
                )
            )
        values = {}
        for number, row in enumerate(payload, 1):
            if not isinstance(row, dict) or "data" not in row or "valor" not in row:
                raise UserError(
                    _(
                        "Index %(index)s: row %(row)s of the Banco Central SGS answer has no "
                        "date and value ('data', 'valor'): %(content)s",
                        index=self.display_name,
                        row=number,
                        content=_shorten(repr(row)),
                    )
                )
            try:
                day = periods.parse_br_date(str(row["data"]))
            except ValueError as error:
                raise UserError(
                    _(
                        "Index %(index)s: row %(row)s of the Banco Central SGS answer has an "
                        "invalid date %(date)r (expected dd/mm/yyyy).",
                        index=self.display_name,
                        row=number,
                        date=row["data"],
                    )
                ) from error
            value = _to_decimal(row["valor"])
            if value is None or not -100 < value < 100:
                raise UserError(
                    _(
                        "Index %(index)s: row %(row)s (%(date)s) of the Banco Central SGS answer "
                        "has an invalid monthly %% value %(value)r.",
                        index=self.display_name,
                        row=number,
                        date=row["data"],
                        value=row["valor"],
                    )
                )
            month = day.replace(day=1)
            if month in values and values[month] != value:
                raise UserError(
                    _(
                        "Index %(index)s: the Banco Central SGS answer has several values for "
                        "%(month)s; SGS series %(code)s is not a monthly series.",
                        index=self.display_name,
                        month=month.strftime("%m/%Y"),
                        code=self.sgs_code,
                    )
                )
            values[month] = value
        return values

    @api.model
    def _cron_import_sgs(self):
        """Monthly: import every index that has an SGS series; a failing index
        is noted on its chatter and does not stop the others."""
        indices = self.search([("sgs_code", ">", 0)])
        done = 0
        for index in indices:
            try:
                with self.env.cr.savepoint():
                    index._import_sgs()
            except UserError as error:
                self.env.invalidate_all()
                message = str(error.args[0]) if error.args else str(error)
                _logger.warning("Import of price index %s failed: %s", index.display_name, message)
                index.message_post(
                    body=Markup("<p>%s</p><p>%s</p>")
                    % (_("The monthly import from the Banco Central failed:"), message),
                    subtype_xmlid="mail.mt_note",
                )
            done += 1
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(indices) - done)


class RbmPriceIndexValue(models.Model):
    _name = "rbm.price.index.value"
    _description = "Price Index Monthly Value"
    _order = "index_id, month desc"

    index_id = fields.Many2one("rbm.price.index", required=True, ondelete="cascade", index=True)
    month = fields.Date(required=True, help="The month the value refers to (its first day).")
    value = fields.Float(
        string="Variation (%)",
        digits=(12, VALUE_DIGITS),
        required=True,
        help="Monthly variation in percent, e.g. 0.44 for 0.44%.",
    )
    source = fields.Selection(
        [("manual", "Typed in"), ("sgs", "Banco Central SGS")],
        required=True,
        default="manual",
        readonly=True,
    )

    _sql_constraints = [
        (
            "index_month_unique",
            "UNIQUE(index_id, month)",
            "An index has one value per month.",
        ),
    ]

    @api.depends("index_id", "month")
    def _compute_display_name(self):
        for record in self:
            month = f"{record.month:%m/%Y}" if record.month else ""
            record.display_name = f"{record.index_id.name or ''} {month}".strip()

    @api.constrains("value")
    def _check_value(self):
        for record in self:
            if not -100 < record.value < 100:
                raise ValidationError(
                    _(
                        "Index %(index)s, %(month)s: a monthly variation must lie between "
                        "-100%% and 100%% (field Variation).",
                        index=record.index_id.display_name,
                        month=format_date(self.env, record.month, date_format="MM/yyyy"),
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            _normalize_month(vals)
        return super().create(vals_list)

    def write(self, vals):
        _normalize_month(vals)
        return super().write(vals)


def _normalize_month(vals):
    """Store a month as its first day, whatever day was picked."""
    if vals.get("month"):
        vals["month"] = fields.Date.to_date(vals["month"]).replace(day=1)


def _to_decimal(raw):
    """``Decimal`` from an SGS value ("0.44", 0.44); ``None`` when it is not a number."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _shorten(text, size=200):
    text = " ".join(str(text or "").split())
    return text if len(text) <= size else f"{text[:size]}…"
