import json

from odoo import http
from odoo.http import content_disposition, request

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RbmKpiController(http.Controller):
    @http.route("/rbm_recurring/kpi/xlsx", type="http", auth="user", methods=["POST"])
    def kpi_xlsx(self, params="{}", **kwargs):
        """The Revenue Dashboard's figures as an XLSX download."""
        name, content = request.env["rbm.kpi"]._get_kpi_xlsx_from_params(json.loads(params))
        return request.make_response(
            content,
            headers=[
                ("Content-Type", XLSX_MIMETYPE),
                ("Content-Disposition", content_disposition(name)),
            ],
        )
