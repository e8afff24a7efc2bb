import base64
import csv
import io
import re

from markupsafe import Markup

from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import usage_input

COLUMNS = usage_input.FIELDS
MAX_ROWS = usage_input.MAX_BATCH
_CONTRACT_ID = re.compile("[0-9]{1,10}")


class RbmUsageImportWizard(models.TransientModel):
    _name = "rbm.usage.import.wizard"
    _description = "Import Usage Events (CSV)"

    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        domain=lambda self: [("id", "in", self.env.user.company_ids.ids)],
    )
    file = fields.Binary(string="CSV File", required=True)
    filename = fields.Char()
    state = fields.Selection([("upload", "Upload"), ("done", "Done")], default="upload")
    accepted_count = fields.Integer(readonly=True)
    duplicate_count = fields.Integer(readonly=True)
    rejected_count = fields.Integer(readonly=True)
    report = fields.Html(readonly=True, sanitize=False)

    def _read_events(self):
        """(events, line numbers) from the CSV file (comma or semicolon separated,
        header row with the API field names, at most MAX_ROWS rows); each cell
        as the API would receive it, so that the same checks answer each row."""
        self.ensure_one()
        try:
            text = base64.b64decode(self.file).decode("utf-8-sig")
        except (ValueError, UnicodeDecodeError) as error:
            raise UserError(_("The file must be a CSV file encoded in UTF-8.")) from error
        try:
            dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        try:
            fields_read = set(reader.fieldnames or [])
        except csv.Error as error:
            raise UserError(
                _(
                    "The file %(file)s cannot be read at line %(line)s: %(error)s",
                    file=self.filename or "",
                    line=reader.line_num + 1,
                    error=str(error),
                )
            ) from error
        missing = {"idempotency_key", "metric", "quantity"} - fields_read
        if missing or not fields_read & {"contract_id", "contract_reference"}:
            raise UserError(
                _(
                    "The CSV file needs a header row with the columns %(columns)s "
                    "(contract_id or contract_reference).",
                    columns=", ".join(COLUMNS),
                )
            )
        events, lines = [], []
        try:
            for row in reader:
                if len(events) == MAX_ROWS:
                    raise UserError(
                        _(
                            "The file %(file)s has more than %(max)s rows: split it into "
                            "files of at most %(max)s rows.",
                            file=self.filename or "",
                            max=MAX_ROWS,
                        )
                    )
                events.append(self._prepare_event(row))
                lines.append(reader.line_num)
        except csv.Error as error:
            raise UserError(
                _(
                    "The file %(file)s cannot be read at line %(line)s: %(error)s",
                    file=self.filename or "",
                    line=reader.line_num + 1,  # the line being read is not counted yet
                    error=str(error),
                )
            ) from error
        return events, lines

    def _prepare_event(self, row):
        """The event of a CSV ``row``, as the API would receive it: empty
        contract, timestamp and properties cells are missing members (an empty
        key, metric or quantity is refused), contract_id a number when it is
        one, properties JSON when it is; any other text is refused by the
        checks of the API with its reason."""
        event = {key: (row.get(key) or "").strip() for key in COLUMNS if key in row}
        contract_id = event.pop("contract_id", "")
        if contract_id:
            is_id = _CONTRACT_ID.fullmatch(contract_id)
            event["contract_id"] = int(contract_id) if is_id else contract_id
        if not event.get("contract_reference"):
            event.pop("contract_reference", None)
        properties = event.pop("properties", "")
        if properties:
            try:
                event["properties"] = usage_input.loads(properties)
            except (ValueError, RecursionError):
                event["properties"] = properties  # rejected as bad_properties
        if not event.get("timestamp"):
            event.pop("timestamp", None)
        return event

    def action_import(self):
        self.ensure_one()
        if self.company_id not in self.env.user.company_ids:
            raise AccessError(
                _(
                    "Usage import %(file)s: you may not import usage into the company %(company)s.",
                    file=self.filename or "",
                    company=self.company_id.sudo().display_name,
                )
            )
        Usage = self.env["rbm.usage"].with_company(self.company_id)
        Usage.check_access("create")
        events, lines = self._read_events()
        results = Usage.sudo()._ingest(self.company_id, events, source="csv")
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        rows = []
        for line, result in zip(lines, results, strict=True):
            counts[result["status"]] += 1
            if result["status"] != "accepted":
                rows.append(
                    Markup("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>")
                    % (line, result["idempotency_key"] or "", result["status"], result["message"])
                )
        report = Markup("")
        if rows:
            report = Markup(
                '<table class="table table-sm"><thead><tr><th>%s</th><th>%s</th><th>%s</th>'
                "<th>%s</th></tr></thead><tbody>%s</tbody></table>"
            ) % (_("Line"), _("Key"), _("Status"), _("Reason"), Markup("").join(rows))
        self.write(
            {
                "state": "done",
                "accepted_count": counts["accepted"],
                "duplicate_count": counts["duplicate"],
                "rejected_count": counts["rejected"],
                "report": report,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
