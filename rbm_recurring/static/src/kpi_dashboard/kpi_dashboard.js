/** @odoo-module **/
/* Revenue Dashboard: headline KPIs, 12-month MRR waterfall, churn and
 * retention by month and the cohort matrix, all read from rbm.kpi
 * (get_dashboard_data); every figure opens the records behind it
 * (rbm.kpi.action_kpi_drilldown). */
import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { download } from "@web/core/network/download";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat } from "@web/core/utils/numbers";

const MOVEMENTS = ["new", "expansion", "reactivation", "contraction", "churn"];

export class RbmKpiDashboard extends Component {
    static template = "rbm_recurring.KpiDashboard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.ui = useService("ui");
        const today = new Date();
        this.state = useState({
            month: `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}`,
            months: 12,
            filters: { company_ids: [], plan_ids: [], user_ids: [], product_ids: [], currency_ids: [] },
            data: null,
            cohortMode: "customers",
        });
        this.movementLabels = {
            new: _t("New"),
            expansion: _t("Expansion"),
            reactivation: _t("Reactivation"),
            contraction: _t("Contraction"),
            churn: _t("Churn"),
            net_new: _t("Net new"),
        };
        this.movements = MOVEMENTS;
        // the formula of each figure (also in the README, "Revenue KPIs")
        this.tips = {
            period: _t(
                "The period: the chosen number of calendar months ending with the chosen month (the current month up to today). A period rate compares the day before the period's first day with its last day; the monthly rates do the same for each month."
            ),
            mrr: _t(
                "MRR = sum over the contracts of their MRR after their last movement up to the end of the period (recurring price brought to one month, less a running campaign discount; 0 while a contract is not billed)."
            ),
            mrr_start: _t("Opening MRR = MRR at the end of the day before the period."),
            arr: _t("ARR = 12 × MRR at the end of the period."),
            active_customers: _t(
                "Customers (the contract's company or person) whose contracts add up to an MRR above zero at the end of the period."
            ),
            active_contracts: _t("Contracts with an MRR above zero at the end of the period."),
            net_new: _t(
                "Net new MRR = new + expansion + reactivation − contraction − churn of the period; closing MRR = opening MRR + net new MRR."
            ),
            new: _t("New: MRR of customers going from 0 to more for the first time."),
            expansion: _t(
                "Expansion: rises of the MRR of customers who already had MRR (upgrade, further contract, price adjustment, a contract replaced the same day by a dearer one)."
            ),
            reactivation: _t(
                "Reactivation: MRR of customers going from 0 to more again after having had MRR, whatever contract carries it."
            ),
            contraction: _t("Contraction: falls of the MRR of customers who keep some MRR."),
            churn: _t("Churn: MRR lost by customers whose MRR (all their contracts) falls to 0."),
            logo_churn_rate: _t(
                "Logo churn = customers active at the start of the period and no longer at its end ÷ customers active at the start."
            ),
            revenue_churn_rate: _t(
                "Gross MRR churn = churn + contraction of the customers active at the start of the period ÷ opening MRR."
            ),
            grr: _t(
                "GRR = (opening MRR − churn and contraction of the customers active at the start) ÷ opening MRR."
            ),
            nrr: _t(
                "Net MRR retention = MRR at the end of the period of the customers active at its start ÷ opening MRR (their expansion and reactivation count, new customers do not)."
            ),
            arpa: _t("ARPA = MRR ÷ active customers, at the end of the period."),
            ltv: _t(
                "LTV = ARPA ÷ average monthly gross MRR churn rate of the months of the period (empty without churn)."
            ),
            realised_revenue_per_customer: _t(
                "Untaxed amount of the paid subscription invoices less paid credit notes up to the end of the period ÷ customers who have any."
            ),
            cohorts: _t(
                "Customers grouped by the month of their first new MRR. Each cell: the share of the cohort's customers still with MRR at the end of that month (Customers), or their MRR ÷ the MRR they started with (Revenue)."
            ),
        };
        onWillStart(() => this.load());
    }

    get dateTo() {
        return `${this.state.month}-01`;
    }

    get params() {
        return { date_to: this.dateTo, months: this.state.months, filters: this.state.filters };
    }

    async load() {
        this.state.data = await this.orm.call("rbm.kpi", "get_dashboard_data", [], {
            date_to: this.dateTo,
            months: this.state.months,
            filters: this.state.filters,
        });
    }

    // ---------------------------------------------------------------- format
    money(value) {
        if (value === null || value === undefined) {
            return "—";
        }
        const { symbol, position } = this.state.data.currency;
        const amount = formatFloat(value, { digits: [16, 2] });
        return position === "after" ? `${amount} ${symbol}` : `${symbol} ${amount}`;
    }

    percent(value) {
        if (value === null || value === undefined) {
            return "—";
        }
        return `${formatFloat(value * 100, { digits: [16, 1] })}%`;
    }

    monthLabel(iso) {
        const [year, month] = iso.split("-");
        return `${month}/${year}`;
    }

    // ---------------------------------------------------------------- headline
    get cards() {
        const d = this.state.data;
        return [
            { key: "mrr", label: _t("MRR"), value: this.money(d.mrr), tip: this.tips.mrr },
            { key: "arr", label: _t("ARR"), value: this.money(d.arr), tip: this.tips.arr },
            { key: "active_customers", label: _t("Active customers"), value: d.active_customers, tip: this.tips.active_customers },
            { key: "active_contracts", label: _t("Active contracts"), value: d.active_contracts, tip: this.tips.active_contracts },
            { key: "net_new", label: _t("Net new MRR"), value: this.money(d.net_new), tip: this.tips.net_new },
            { key: "logo_churn_rate", label: _t("Logo churn"), value: this.percent(d.logo_churn_rate), tip: this.tips.logo_churn_rate },
            {
                key: "revenue_churn_rate",
                label: _t("Gross MRR churn"),
                value: this.percent(d.revenue_churn_rate),
                tip: this.tips.revenue_churn_rate,
            },
            { key: "grr", label: _t("GRR"), value: this.percent(d.grr), tip: this.tips.grr },
            { key: "nrr", label: _t("NRR"), value: this.percent(d.nrr), tip: this.tips.nrr },
            { key: "arpa", label: _t("ARPA"), value: this.money(d.arpa), tip: this.tips.arpa },
            { key: "ltv", label: _t("LTV"), value: this.money(d.ltv), tip: this.tips.ltv },
            {
                key: "realised_revenue_per_customer",
                label: _t("Realised revenue / customer"),
                value: this.money(d.realised_revenue_per_customer),
                tip: this.tips.realised_revenue_per_customer,
            },
        ];
    }

    // ---------------------------------------------------------------- waterfall
    get barScale() {
        let max = 0;
        for (const m of this.state.data.months) {
            const up = m.new + m.expansion + m.reactivation;
            const down = -(m.contraction + m.churn);
            max = Math.max(max, up, down);
        }
        return max || 1;
    }

    barStyle(value) {
        return `width: ${Math.round((Math.abs(value) / this.barScale) * 100)}%`;
    }

    get mrrScale() {
        return Math.max(1, ...this.state.data.months.map((m) => m.mrr_end));
    }

    mrrBarStyle(month) {
        return `height: ${Math.round((month.mrr_end / this.mrrScale) * 100)}%`;
    }

    // ---------------------------------------------------------------- cohorts
    cohortValue(cell) {
        return this.state.cohortMode === "customers" ? cell.customer_rate : cell.mrr_rate;
    }

    cohortStyle(cell) {
        const value = this.cohortValue(cell);
        if (value === null || value === undefined) {
            return "";
        }
        const alpha = Math.max(0.08, Math.min(1, value));
        return `background-color: rgba(1, 126, 132, ${alpha.toFixed(2)}); color: ${alpha > 0.55 ? "#fff" : "#1f2937"}`;
    }

    get cohortWidth() {
        return Math.max(0, ...this.state.data.cohorts.map((c) => c.cells.length));
    }

    get cohortOffsets() {
        return [...Array(this.cohortWidth).keys()];
    }

    // ---------------------------------------------------------------- actions
    async drill(key, extra = {}) {
        const action = await this.orm.call("rbm.kpi", "action_kpi_drilldown", [key, {
            ...this.params,
            ...extra,
        }]);
        await this.action.doAction(action);
    }

    async onFilter(field, ev) {
        const value = parseInt(ev.target.value);
        this.state.filters[field] = value ? [value] : [];
        await this.load();
    }

    async onMonth(ev) {
        if (ev.target.value) {
            this.state.month = ev.target.value;
            await this.load();
        }
    }

    async onMonths(ev) {
        this.state.months = parseInt(ev.target.value) || 12;
        await this.load();
    }

    async exportXlsx() {
        this.ui.block();
        try {
            await download({
                url: "/rbm_recurring/kpi/xlsx",
                data: { params: JSON.stringify(this.params) },
            });
        } finally {
            this.ui.unblock();
        }
    }
}

registry.category("actions").add("rbm_kpi_dashboard", RbmKpiDashboard);
