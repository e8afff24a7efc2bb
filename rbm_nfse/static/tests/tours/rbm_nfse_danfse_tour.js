import { registry } from "@web/core/registry";

/**
 * The accountant prints the DANFSe of an invoice whose NFS-e was issued: from the
 * invoice's "DANFSe" button, then from the NFS-e itself. Neither shows an error.
 */

registry.category("web_tour.tours").add("rbm_nfse_danfse_tour", {
    steps: () => [
        {
            content: "Print the DANFSe from the invoice",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_rbm_nfse_danfse]",
            run: "click",
        },
        {
            content: "No error: the invoice form is still there",
            trigger: "body:not(:has(.o_error_dialog)) .o_form_view .oe_stat_button[name=action_rbm_nfse_open]",
            run: "click",
        },
        {
            content: "The NFS-e form shows its access key",
            trigger: ".o_form_view .o_field_widget[name=access_key]:not(:empty)",
        },
        {
            content: "Print the DANFSe from the NFS-e",
            trigger: ".o_form_view .o_statusbar_buttons button:contains(DANFSe)",
            run: "click",
        },
        {
            content: "No error after printing",
            trigger: "body:not(:has(.o_error_dialog)) .o_form_view .o_field_widget[name=nfse_number]",
        },
    ],
});
