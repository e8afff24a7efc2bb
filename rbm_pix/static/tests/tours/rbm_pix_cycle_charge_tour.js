import { registry } from "@web/core/registry";

/**
 * An accountant opens a contract paid by Pix Automático, follows its smart
 * button to the cycle charges, opens the one the payer's bank settled (its
 * notification was lost) and presses Read from the PSP: the charge is paid.
 */
registry.category("web_tour.tours").add("rbm_pix_cycle_charge_tour", {
    steps: () => [
        {
            content: "Open the contract's Pix Automático charges",
            trigger: "button.oe_stat_button:has(.o_field_widget[name=rbm_pix_cycle_charge_count])",
            run: "click",
        },
        {
            content: "Open the charge of the cycle",
            trigger: ".o_list_view .o_data_row .o_data_cell[name=txid]",
            run: "click",
        },
        {
            content: "Read it from the PSP",
            trigger: ".o_form_view .o_form_statusbar button[name=action_refresh]",
            run: "click",
        },
        {
            content: "The charge is paid",
            trigger: ".o_form_view .o_statusbar_status button[data-value=paid].o_arrow_button_current",
        },
        {
            content: "and its payment shown",
            trigger: ".o_form_view .o_field_widget[name=end_to_end_id]:not(:empty)",
        },
    ],
});
