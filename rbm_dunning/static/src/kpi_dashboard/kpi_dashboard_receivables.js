/** @odoo-module **/
// Receivable figures (delinquency rate, DSO) on the Revenue Dashboard.

import { formatFloat } from "@web/core/utils/numbers";
import { patch } from "@web/core/utils/patch";
import { RbmKpiDashboard } from "@rbm_recurring/kpi_dashboard/kpi_dashboard";

patch(RbmKpiDashboard.prototype, {
    days(value) {
        if (value === null || value === undefined) {
            return "—";
        }
        return formatFloat(value, { digits: [16, 1] });
    },
});
