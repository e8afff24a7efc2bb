import { registry } from "@web/core/registry";
import { openMenu, pickMany2one } from "@rbm_recurring/../tests/tours/rbm_tour_utils";
import { rpc } from "@web/core/network/rpc";

/**
 * The collection agent's journey, in two parts around the bank: a
 * collection account, a contract paid by boleto invoiced with its boleto,
 * the remittance file; then (once the bank's return file is there) the
 * return imported through the wizard, the invoice paid; and the collection
 * calendar's log on an overdue invoice.
 */

function edit(fieldName, value) {
    return {
        content: `Fill ${fieldName}`,
        trigger: `.o_form_view .o_field_widget[name=${fieldName}] input`,
        run: `edit ${value}`,
    };
}

registry.category("web_tour.tours").add("rbm_collection_agent_tour", {
    url: "/odoo/action-rbm_recurring.rbm_contract_action",
    steps: () => [
        ...openMenu("Collection", "Collection Accounts"),
        {
            content: "A new collection account",
            trigger: ".o_control_panel_main_buttons button.btn-primary:contains(New)",
            run: "click",
        },
        edit("name", "Itaú Tour 109"),
        {
            trigger: ".o_form_view .o_field_widget[name=bank_code] select",
            run: 'select "341"',
        },
        edit("branch", "0810"),
        edit("account_number", "53678"),
        edit("portfolio", "109"),
        ...pickMany2one("partner_bank_id", "53678"),
        ...pickMany2one("journal_id", "Bank"),
        ...pickMany2one("interest_account_id", "Juros Tour"),
        ...pickMany2one("fee_account_id", "Tarifas Tour"),
        {
            content: "Open the Pix tab",
            trigger: ".o_notebook .nav-link:contains(Pix)",
            run: "click",
        },
        edit("pix_key", "16727230000197"),
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".o_form_saved" },
        ...openMenu("Billing", "Contracts"),
        {
            content: "Show contracts in every state (the list opens on the active ones)",
            trigger: ".o_searchview .o_facet_remove",
            run: "click",
        },
        {
            content: "Open the customer's draft contract",
            trigger: ".o_data_row:contains(Maria José da Conceição) .o_data_cell",
            run: "click",
        },
        ...pickMany2one("rbm_collection_account_id", "Itaú Tour 109"),
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".o_form_saved" },
        {
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
            content: "The invoice has its boleto",
            trigger: ".o_form_view button[name=action_rbm_view_boletos]:contains(1)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=rbm_collection_account_id]:contains(Itaú Tour 109), .o_form_view .o_field_widget[name=rbm_collection_account_id] input:value(Itaú Tour 109)",
        },
        ...openMenu("Collection", "Collection Accounts"),
        {
            trigger: ".o_data_row:contains(Itaú Tour 109) .o_data_cell",
            run: "click",
        },
        {
            content: "Generate the remittance for the bank",
            trigger: ".o_form_statusbar button[name=action_generate_remittance]",
            run: "click",
        },
        {
            content: "The remittance file carries the boleto",
            trigger: ".o_form_view .o_field_widget[name=filename]:not(:empty), .o_form_view .o_field_widget[name=line_count]",
        },
    ],
});

registry.category("web_tour.tours").add("rbm_collection_return_tour", {
    url: "/odoo/action-rbm_recurring.rbm_contract_action",
    steps: () => [
        ...openMenu("Collection", "Import Return File", true),
        ...pickMany2one("collection_account_id", "Itaú Tour 109", ".modal"),
        {
            content: "Upload the bank's return file",
            trigger: ".modal .o_field_widget[name=data] .o_select_file_button",
            async run() {
                const input = this.anchor
                    .closest(".o_field_widget")
                    .querySelector("input[type=file]");
                const [attachment] = await rpc("/web/dataset/call_kw/ir.attachment/search_read", {
                    model: "ir.attachment",
                    method: "search_read",
                    args: [[["name", "=", "RETORNO-TOUR.RET"]], ["datas"]],
                    kwargs: {},
                });
                const bytes = Uint8Array.from(atob(attachment.datas), (c) => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], "RETORNO-TOUR.RET", { type: "text/plain" }));
                input.files = transfer.files;
                input.dispatchEvent(new Event("change", { bubbles: true }));
            },
        },
        {
            trigger: ".modal .o_field_widget[name=data]:contains(RETORNO-TOUR.RET), .modal .o_field_widget[name=data] .o_form_uri, .modal .o_field_widget[name=data] input[type=text]",
        },
        {
            content: "Preview what the file does",
            trigger: ".modal button[name=action_preview]",
            run: "click",
        },
        {
            content: "The payment is listed, to apply",
            trigger: ".modal .o_data_row:contains(To Apply)",
        },
        {
            content: "Import it",
            trigger: ".modal button[name=action_import]",
            run: "click",
        },
        {
            content: "The return file is recorded",
            trigger: "body:not(:has(.modal)) .o_breadcrumb .active:contains(RETORNO-TOUR.RET)",
        },
        ...openMenu("Billing", "Contracts"),
        {
            trigger: ".o_data_row:contains(Maria José da Conceição) .o_data_cell",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name=action_view_invoices]",
            run: "click",
        },
        {
            content: "The invoice is paid",
            trigger: ".o_data_row:contains(Paid)",
        },
    ],
});

registry.category("web_tour.tours").add("rbm_collection_log_tour", {
    url: "/odoo/action-account.action_move_out_invoice_type",
    steps: () => [
        {
            content: "Open the overdue invoice",
            trigger: ".o_data_row:contains(João Atrasado) .o_data_cell",
            run: "click",
        },
        {
            content: "Its Collection tab",
            trigger: ".o_notebook .nav-link:contains(Collection)",
            run: "click",
        },
        {
            content: "The reminder sent by the collection calendar",
            trigger: ".o_field_widget[name=rbm_collection_log_ids] .o_data_row:contains(Lembrete D+3)",
        },
    ],
});

/** The timeline's markers left to right on screen: their centre and label. */
function timelineMarkers() {
    return [...document.querySelectorAll(".o_rbm_timeline .o_rbm_timeline_step")]
        .map((marker) => {
            const rect = marker.getBoundingClientRect();
            return {
                x: rect.left + rect.width / 2,
                text: [".o_rbm_timeline_step_day", ".o_rbm_timeline_step_action"]
                    .map((part) => marker.querySelector(part).textContent.trim())
                    .join(" "),
            };
        })
        .sort((a, b) => a.x - b.x);
}

/** The markers read ``expected`` left to right, spread along the form's width. */
function checkMarkers(expected) {
    return () => {
        const markers = timelineMarkers();
        const found = JSON.stringify(markers.map((marker) => marker.text));
        if (found !== JSON.stringify(expected)) {
            throw new Error(`timeline markers ${found}, expected ${JSON.stringify(expected)}`);
        }
        const width = document.querySelector(".o_rbm_timeline").getBoundingClientRect().width;
        const sheet = document.querySelector(".o_form_sheet").getBoundingClientRect().width;
        if (width < sheet * 0.8) {
            throw new Error(`the timeline is ${width}px wide in a form ${sheet}px wide`);
        }
        for (let i = 1; i < markers.length; i++) {
            if (markers[i].x - markers[i - 1].x < 10) {
                throw new Error(`markers ${found} are not spread along the axis`);
            }
        }
    };
}

registry.category("web_tour.tours").add("rbm_collection_policy_timeline_tour", {
    url: "/odoo/action-rbm_dunning.rbm_collection_policy_action",
    steps: () => [
        {
            content: "Open the policy",
            trigger: ".o_data_row:contains(Régua Timeline) .o_data_cell",
            run: "click",
        },
        {
            content: "The timeline shows the due date on its axis",
            trigger: ".o_rbm_timeline .o_rbm_timeline_due:contains(Due date)",
        },
        {
            content: "Each step is a marker at its day, left to right",
            trigger: ".o_rbm_timeline .o_rbm_timeline_step[data-day='15']",
            run: checkMarkers(["D-3 Send email", "D+3 Send email", "D+15 Suspend contract"]),
        },
        {
            content: "Add a step",
            trigger: ".o_field_x2many_list .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: ".o_data_row.o_selected_row .o_field_widget[name=day_offset] input",
            run: "edit 7",
        },
        {
            trigger: ".o_data_row.o_selected_row .o_field_widget[name=action] select",
            run: 'select "activity"',
        },
        {
            content: "The new step is on the timeline before the policy is saved",
            trigger: ".o_rbm_timeline .o_rbm_timeline_step[data-day='7'][data-action='activity']:contains(D+7):contains(Schedule activity)",
            run: checkMarkers([
                "D-3 Send email",
                "D+3 Send email",
                "D+7 Schedule activity",
                "D+15 Suspend contract",
            ]),
        },
        {
            content: "Remove the D+3 reminder",
            trigger: ".o_data_row:contains(D+3 Send email) .o_list_record_remove",
            run: "click",
        },
        {
            content: "Its marker is gone",
            trigger: ".o_rbm_timeline:not(:has(.o_rbm_timeline_step[data-day='3']))",
            run: checkMarkers(["D-3 Send email", "D+7 Schedule activity", "D+15 Suspend contract"]),
        },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".o_form_saved" },
        {
            content: "The saved policy draws the same timeline",
            trigger: ".o_rbm_timeline .o_rbm_timeline_step[data-day='7']",
            run: checkMarkers(["D-3 Send email", "D+7 Schedule activity", "D+15 Suspend contract"]),
        },
    ],
});
