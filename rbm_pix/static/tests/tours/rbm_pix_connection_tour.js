import { registry } from "@web/core/registry";

/**
 * An administrator opens a PSP connection and presses Test Connection: the
 * PSP (a local test server) issues a token and answers, and the notification
 * says the connection works.
 */
registry.category("web_tour.tours").add("rbm_pix_connection_tour", {
    steps: () => [
        {
            content: "The connection's form is open",
            trigger: ".o_form_view .o_field_widget[name=name]",
        },
        {
            content: "Press Test Connection",
            trigger: ".o_form_view .o_form_statusbar button[name=action_test_connection]",
            run: "click",
        },
        {
            content: "The PSP answered",
            trigger: ".o_notification:has(.o_notification_bar.bg-success):contains(works)",
        },
    ],
});
