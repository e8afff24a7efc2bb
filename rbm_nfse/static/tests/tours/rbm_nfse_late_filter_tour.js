import { registry } from "@web/core/registry";

/**
 * The accountant looks for the NFS-e still not issued after the company's days: in the
 * NFS-e list, the "Late" filter keeps the old pending invoice and leaves the recent one out.
 */
registry.category("web_tour.tours").add("rbm_nfse_late_filter_tour", {
    steps: () => [
        {
            content: "The list opens on the pending and rejected NFS-e: both invoices",
            trigger: ".o_list_view .o_data_row:contains(Cliente Atrasado Ltda)",
        },
        {
            trigger: ".o_list_view .o_data_row:contains(Cliente Recente Ltda)",
        },
        {
            content: "Open the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Late",
            trigger: ".o_filter_menu .dropdown-item:contains(Late)",
            run: "click",
        },
        {
            content: "The old pending invoice stays",
            trigger: ".o_list_view .o_data_row:contains(Cliente Atrasado Ltda)",
        },
        {
            content: "the recent one is left out",
            trigger: ".o_list_view:not(:has(.o_data_row:contains(Cliente Recente Ltda)))",
        },
    ],
});
