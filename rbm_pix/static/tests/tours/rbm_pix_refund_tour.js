import { registry } from "@web/core/registry";

/**
 * An accounting manager opens a Pix payment, presses Refund Pix, refunds part of it
 * with a message to the payer and lands on the refund, waiting to be sent.
 */
registry.category("web_tour.tours").add("rbm_pix_refund_tour", {
    steps: () => [
        {
            content: "The payment's form is open",
            trigger: ".o_form_view .o_field_widget[name=rbm_pix_end_to_end_id]",
        },
        {
            content: "Press Refund Pix",
            trigger: ".o_form_view .o_form_statusbar button[name=action_rbm_pix_refund]",
            run: "click",
        },
        {
            content: "What is left to refund is shown",
            trigger: ".modal .o_field_widget[name=refundable_amount]:contains(150)",
        },
        {
            content: "Refund part of it",
            trigger: ".modal .o_field_widget[name=amount] input",
            run: "edit 35",
        },
        {
            content: "A message to the payer",
            trigger: ".modal .o_field_widget[name=description] input",
            run: "edit Desistência",
        },
        {
            content: "Confirm",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "The refund waits to be sent to the PSP",
            trigger: ".o_form_view .o_field_widget[name=name]:contains(RBMD)",
        },
        {
            content: "Its amount",
            trigger: ".o_form_view .o_field_widget[name=amount]:contains(35)",
        },
    ],
});
