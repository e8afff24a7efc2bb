import json

from odoo import http
from odoo.http import content_disposition, request

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RbmKpiController(http.Controller):
    # read only: on the database replica when Odoo has one (db_replica_host)
    @http.route(
        "/rbm_recurring/kpi/xlsx", type="http", auth="user", methods=["POST"], readonly=True
    )
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
