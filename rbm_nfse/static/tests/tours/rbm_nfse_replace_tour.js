import { registry } from "@web/core/registry";

/**
 * The accountant replaces an issued NFS-e: from the invoice's NFS-e, "Replace NFS-e",
 * a reason of the national list and what the substitute corrects; the substitute opens,
 * issued, naming the NFS-e it replaces.
 */
registry.category("web_tour.tours").add("rbm_nfse_replace_tour", {
    steps: () => [
        {
            content: "Open the invoice's NFS-e",
            trigger: ".o_form_view .oe_stat_button[name=action_rbm_nfse_open]",
            run: "click",
        },
        {
            content: "Replace it",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_replace]",
            run: "click",
        },
        {
            content: "Reason 01 of the national list",
            trigger: ".modal .o_field_widget[name=reason_code] select",
            run: 'select "01"',
        },
        {
            content: "What the substitute corrects",
            trigger: ".modal .o_field_widget[name=reason] input",
            run: "edit Endereço do tomador corrigido na nota",
        },
        {
            content: "Issue the substitute",
            trigger: ".modal button[name=action_replace]",
            run: "click",
        },
        {
            content: "The substitute names the NFS-e it replaces",
            trigger: ".o_form_view .o_field_widget[name=replaces_id]:not(:empty)",
        },
        {
            content: "and is issued",
            trigger: ".o_statusbar_status button.o_arrow_button_current[data-value=issued]",
        },
    ],
});
