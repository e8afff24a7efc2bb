import { registry } from "@web/core/registry";

/**
 * A manager opens a running contract, presses Authorize Pix Automático, keeps
 * journey 2 and confirms: the contract's Pix Automático tab shows the
 * authorization waiting to be sent.
 */
registry.category("web_tour.tours").add("rbm_pix_authorization_backoffice", {
    steps: () => [
        {
            content: "Press Authorize Pix Automático",
            trigger: ".o_form_view .o_form_statusbar button[name=action_rbm_pix_authorize]",
            run: "click",
        },
        {
            content: "Choose journey 2",
            trigger: ".modal .o_field_widget[name=journey] input[data-value='2']",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "Open the Pix Automático tab",
            trigger: ".o_notebook .nav-link[name=rbm_pix_automatico]",
            run: "click",
        },
        {
            content: "The authorization waits to be sent",
            trigger: ".o_field_widget[name=rbm_pix_authorization_state] .badge.text-bg-info",
        },
        {
            content: "The button is no longer offered",
            trigger: ".o_form_statusbar:not(:has(button[name=action_rbm_pix_authorize]))",
        },
    ],
});
