import base64
import csv
import io
import json

from markupsafe import Markup

from odoo import _, fields, models
from odoo.exceptions import UserError

COLUMNS = (
    "idempotency_key",
    "metric",
    "contract_id",
    "contract_reference",
    "quantity",
    "timestamp",
    "properties",
)


class RbmUsageImportWizard(models.TransientModel):
    _name = "rbm.usage.import.wizard"
    _description = "Import Usage Events (CSV)"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
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
        header row with the API field names)."""
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
        fields_read = set(reader.fieldnames or [])
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
        for row in reader:
            event = {key: (row.get(key) or "").strip() for key in COLUMNS if key in row}
            contract_id = event.pop("contract_id", "")
            if contract_id:
                event["contract_id"] = int(contract_id) if contract_id.isdigit() else contract_id
            if not event.get("contract_reference"):
                event.pop("contract_reference", None)
            properties = event.pop("properties", "")
            if properties:
                try:
                    event["properties"] = json.loads(properties)
                except ValueError:
                    event["properties"] = properties  # rejected as bad_properties
            if not event.get("timestamp"):
                event.pop("timestamp", None)
            events.append(event)
            lines.append(reader.line_num)
        return events, lines

    def action_import(self):
        self.ensure_one()
        events, lines = self._read_events()
        Usage = self.env["rbm.usage"].with_company(self.company_id)
        Usage.check_access("create")
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
