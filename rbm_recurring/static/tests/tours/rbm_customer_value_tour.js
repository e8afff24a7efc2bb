import { registry } from "@web/core/registry";

/**
 * The customer's value over time on the customer form, then the formula of
 * the dashboard's figures in their tooltips.
 */

registry.category("web_tour.tours").add("rbm_customer_value_tour", {
    steps: () => [
        {
            content: "Open the customer's Subscription Value tab",
            trigger: ".o_notebook .nav-link:contains(Subscription Value)",
            run: "click",
        },
        {
            content: "MRR today, from the movements",
            trigger: ".o_field_widget[name=rbm_current_mrr]:contains(250.00)",
        },
        {
            content: "Lifetime revenue invoiced",
            trigger: ".o_field_widget[name=rbm_invoiced_revenue]:contains(250.00)",
        },
        {
            content: "One bar per month since the first movement: three months",
            trigger: ".o_rbm_mrr_history:has(.o_rbm_mrr_history_col:nth-child(3)):not(:has(.o_rbm_mrr_history_col:nth-child(4)))",
        },
        {
            content: "The customer's movements by month",
            trigger: "button[name=action_view_rbm_mrr_events]",
            run: "click",
        },
        { trigger: ".o_graph_view, .o_pivot_view, .o_list_view" },
        {
            content: "Go to the Revenue Dashboard",
            trigger: "body",
            run: () => {
                window.location.href = "/odoo/action-rbm_recurring.rbm_kpi_dashboard_action";
            },
            expectUnloadPage: true,
        },
        {
            content: "Hover the MRR card",
            trigger: ".o_rbm_kpi_card[data-kpi=mrr]",
            run: "hover",
        },
        {
            content: "Its formula shows",
            trigger: ".o-tooltip:contains(MRR = sum over the contracts)",
        },
        {
            content: "Hover the Reactivation column",
            trigger: ".o_rbm_kpi_waterfall th:contains(Reactivation)",
            run: "hover",
        },
        {
            content: "Reactivation is defined by customer",
            trigger: ".o-tooltip:contains(after having had MRR, whatever contract carries it)",
        },
        {
            content: "Hover the period",
            trigger: ".o_rbm_kpi_period",
            run: "hover",
        },
        {
            content: "What the period means",
            trigger: ".o-tooltip:contains(A period rate compares)",
        },
    ],
});
