import { registry } from "@web/core/registry";
import { openMenu, pickMany2one } from "@rbm_recurring/../tests/tours/rbm_tour_utils";

/**
 * The billing clerk's journey: a plan, a contract on it, activated and
 * invoiced now, a plan change read in its preview and confirmed, then the
 * cancellation. The Python test checks what it left in the database.
 */

registry.category("web_tour.tours").add("rbm_billing_clerk_tour", {
    url: "/odoo/action-rbm_recurring.rbm_plan_action",
    steps: () => [
        {
            content: "Create a plan",
            trigger: ".o_control_panel_main_buttons button.btn-primary:contains(New)",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Plano Tour Essencial",
        },
        {
            content: "Add the plan's product",
            trigger: "div[name=line_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        ...pickMany2one("product_id", "Tour Essencial", "div[name=line_ids] .o_selected_row"),
        {
            trigger: "div[name=line_ids] .o_selected_row .o_field_widget[name=price_unit] input",
            run: "edit 99.90",
        },
        {
            content: "Save the plan",
            trigger: ".o_form_button_save",
            run: "click",
        },
        { trigger: ".o_form_saved" },
        {
            content: "The monthly fee reads as money (usage prices keep 6 decimals)",
            trigger:
                "div[name=line_ids] .o_data_row .o_field_widget[name=price_unit]:contains(/^99\\.90$/)",
        },
        ...openMenu("Billing", "Contracts"),
        {
            content: "Create a contract",
            trigger: ".o_control_panel_main_buttons button.btn-primary:contains(New)",
            run: "click",
        },
        ...pickMany2one("partner_id", "Tour Cliente Ltda"),
        ...pickMany2one("plan_id", "Plano Tour Essencial"),
        {
            content: "Paid by invoice (bank transfer)",
            trigger: ".o_field_widget[name=payment_mode] select",
            run: 'select "invoice"',
        },
        {
            content: "The plan's line is on the contract",
            trigger: "div[name=line_ids] .o_data_row:contains(Tour Essencial)",
        },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".o_form_saved" },
        {
            content: "Activate",
            trigger: ".o_form_statusbar button[name=action_activate]",
            run: "click",
        },
        {
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Active)",
        },
        {
            content: "Invoice now",
            trigger: ".o_form_statusbar button[name=action_bill_now]",
            run: "click",
        },
        {
            content: "The invoice opens, posted, for the plan's price",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Posted)",
        },
        {
            trigger: ".o_form_view div[name=invoice_line_ids] .o_data_row:contains(99.90)",
        },
        {
            content: "Back to the contract",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(CTR/)",
            run: "click",
        },
        {
            content: "Change the plan",
            trigger: ".o_form_statusbar button[name=action_change_wizard]",
            run: "click",
        },
        ...pickMany2one("new_plan_id", "Plano Tour Premium", ".modal"),
        {
            content: "The preview shows what the change costs",
            trigger: ".modal .o_field_widget[name=preview]:contains(Plano Tour Premium)",
        },
        {
            content: "Confirm the change",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "The contract now has the new plan",
            trigger: "body:not(:has(.modal)) .o_form_view .o_field_widget[name=plan_id]:contains(Plano Tour Premium)",
        },
        {
            content: "Cancel the contract",
            trigger: ".o_form_statusbar button[name=action_cancel_wizard]",
            run: "click",
        },
        ...pickMany2one("reason_id", "Too expensive", ".modal"),
        {
            content: "The preview says when it ends",
            trigger: ".modal .o_field_widget[name=preview]:not(:empty)",
        },
        {
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "The contract shows its cancellation reason",
            trigger: ".o_action_manager .o_form_view .o_field_widget[name=cancel_reason_id]:contains(Too expensive)",
        },
    ],
});
