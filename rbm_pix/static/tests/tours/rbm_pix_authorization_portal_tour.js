import { registry } from "@web/core/registry";

/**
 * The customer opens their subscription and authorizes Pix Automático; the page shows
 * the status while the authorization is sent to the bank.
 */
registry.category("web_tour.tours").add("rbm_pix_authorization_portal", {
    steps: () => [
        {
            content: "The subscription offers Pix Automático",
            trigger: "#rbm_pix_automatico button.o_rbm_pix_authorize",
            run: "click",
        },
        {
            content: "The authorization is being prepared",
            trigger: "#rbm_pix_automatico .o_rbm_pix_auth_status .o_rbm_pix_auth_waiting, #rbm_pix_automatico .o_rbm_pix_auth_waiting",
        },
        {
            content: "No second authorization can be asked for",
            trigger: "#rbm_pix_automatico:not(:has(button.o_rbm_pix_authorize))",
        },
    ],
});

/** The authorization awaits the customer: QR code and copy-and-paste code shown. */
registry.category("web_tour.tours").add("rbm_pix_authorization_portal_qr", {
    steps: () => [
        {
            content: "The QR code is shown",
            trigger: "#rbm_pix_automatico img.o_rbm_pix_auth_qr[src^='data:image/png']",
        },
        {
            content: "The copy-and-paste code is a BR Code",
            trigger: "#rbm_pix_automatico input.o_rbm_pix_auth_code[value^='000201']",
        },
    ],
});

/** The customer approved in their bank's app and refreshes the page. */
registry.category("web_tour.tours").add("rbm_pix_authorization_portal_refresh", {
    steps: () => [
        {
            content: "Refresh the status",
            trigger: "#rbm_pix_automatico button.o_rbm_pix_refresh",
            run: "click",
        },
        {
            content: "Pix Automático is active, with its bank and amount",
            trigger: "#rbm_pix_automatico .o_rbm_pix_auth_active",
        },
        {
            content: "The amount of each invoice",
            trigger: "#rbm_pix_automatico dd:contains(150.00), #rbm_pix_automatico dd:contains(150,00)",
        },
    ],
});
