import { registry } from "@web/core/registry";

/**
 * The billing clerk's journey: a plan, a contract on it, activated and
 * invoiced now, a plan change read in its preview and confirmed, then the
 * cancellation. The Python test checks what it left in the database.
 */
function pickMany2one(fieldName, text, scope = "") {
    return [
        {
            content: `Type ${text} in ${fieldName}`,
            trigger: `${scope} .o_field_widget[name=${fieldName}] input`,
            run: `edit ${text}`,
        },
        {
            content: "Let the search run (the list shown on focus is replaced after 250 ms)",
            trigger: `${scope} .o_field_widget[name=${fieldName}] input`,
            run: () => new Promise((resolve) => setTimeout(resolve, 400)),
        },
        {
            content: `Choose ${text}`,
            trigger: `.o-autocomplete--dropdown-menu:not(:has(.o_loading)) .dropdown-item:contains(${text})`,
            run: "click",
        },
        {
            content: `${text} is chosen`,
            trigger: `body:not(:has(.o-autocomplete--dropdown-menu)) ${scope} .o_field_widget[name=${fieldName}] input:value(${text})`,
        },
    ];
}

function openMenu(section, item, dialog = false) {
    const opened = dialog
        ? { content: `${item} is open`, trigger: `.modal .modal-title:contains(${item})` }
        : { content: `${item} is open`, trigger: `.o_breadcrumb .active:contains(${item})` };
    return [
        {
            content: `Open the ${section} menu`,
            trigger: `.o_menu_sections .dropdown-toggle:contains(${section})`,
            run: "click",
        },
        {
            content: `Open ${item}`,
            trigger: `.o-dropdown--menu .dropdown-item:contains(${item})`,
            run: "click",
        },
        opened,
    ];
}

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
        ...openMenu("Billing", "Contracts"),
        {
            content: "Create a contract",
            trigger: ".o_control_panel_main_buttons button.btn-primary:contains(New)",
            run: "click",
        },
        ...pickMany2one("partner_id", "Tour Cliente Ltda"),
        ...pickMany2one("plan_id", "Plano Tour Essencial"),
        {
            content: "Paid by boleto",
            trigger: ".o_field_widget[name=payment_mode] select",
            run: 'select "boleto"',
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
