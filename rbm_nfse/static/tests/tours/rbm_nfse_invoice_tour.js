import { registry } from "@web/core/registry";

/**
 * The accountant opens an invoice whose NFS-e was issued: the smart button
 * shows its state, and opens the NFS-e with its number and access key.
 */

registry.category("web_tour.tours").add("rbm_nfse_invoice_tour", {
    steps: () => [
        {
            content: "The invoice shows its NFS-e, issued",
            trigger: ".o_form_view .oe_stat_button[name=action_rbm_nfse_open]:contains(Issued)",
            run: "click",
        },
        {
            content: "The NFS-e names its access key",
            trigger: ".o_form_view .o_field_widget[name=access_key]:not(:empty)",
        },
        {
            content: "and its state",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Issued)",
        },
    ],
});
