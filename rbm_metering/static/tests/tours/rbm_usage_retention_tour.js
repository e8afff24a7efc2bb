import { registry } from "@web/core/registry";
import { openMenu } from "@rbm_recurring/../tests/tours/rbm_tour_utils";

/**
 * The administrator sets the usage retention in Settings › Invoicing, then,
 * after the nightly cron, reads the daily totals of the events it deleted.
 */
registry.category("web_tour.tours").add("rbm_usage_retention_settings_tour", {
    url: "/odoo/action-account.action_account_config",
    steps: () => [
        {
            content: "Keep usage events one month after their invoice",
            trigger: ".o_field_widget[name=rbm_usage_retention_months] input",
            run: "edit 1",
        },
        {
            trigger: ".o_control_panel .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view:not(:has(.o_dirty_warning))",
        },
        {
            trigger: ".o_field_widget[name=rbm_usage_retention_months] input",
        },
    ],
});

registry.category("web_tour.tours").add("rbm_usage_daily_totals_tour", {
    url: "/odoo/action-rbm_recurring.rbm_plan_action",
    steps: () => [
        ...openMenu("Usage", "Daily Usage Totals"),
        {
            content: "The day of the 70.5 GB event, counted once, with the invoice that billed it",
            trigger: ".o_data_row:contains(Retention Customer A):contains(70.5)",
        },
        {
            trigger: ".o_data_row:contains(Retention Customer A):contains(70.5) td[name=event_count]:contains(1)",
        },
    ],
});
