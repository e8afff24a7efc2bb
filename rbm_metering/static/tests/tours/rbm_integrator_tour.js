import { registry } from "@web/core/registry";
import { openMenu } from "@rbm_recurring/../tests/tours/rbm_tour_utils";

/**
 * The integrator's journey: an API key created in the back office, events
 * sent with it to the usage API (as the integrator's platform would), the
 * events listed and priced on the contract's usage statement.
 */
registry.category("web_tour.tours").add("rbm_integrator_tour", {
    url: "/odoo/action-rbm_metering.rbm_api_key_action",
    steps: () => [
        {
            content: "A new API key",
            trigger: ".o_control_panel button:contains(New API Key)",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Plataforma Integra - produção",
        },
        {
            trigger: ".modal button[name=action_generate]",
            run: "click",
        },
        {
            content: "Send two events with the key shown once, as the platform would",
            trigger: ".modal .o_field_widget[name=key]:contains(rbm_)",
            async run() {
                const key = this.anchor.textContent.trim();
                const response = await fetch("/rbm/api/v1/usage", {
                    method: "POST",
                    headers: {
                        "Content-Type": "application/json",
                        Authorization: `Bearer ${key}`,
                    },
                    body: JSON.stringify({
                        events: [
                            {
                                idempotency_key: "integra-0001",
                                metric: "api_calls",
                                contract_reference: "INTEGRA-01",
                                quantity: 1200,
                            },
                            {
                                idempotency_key: "integra-0002",
                                metric: "api_calls",
                                contract_reference: "INTEGRA-01",
                                quantity: 300,
                            },
                        ],
                    }),
                });
                const answer = await response.json();
                if (response.status !== 200 || answer.accepted !== 2) {
                    throw new Error(`usage API answered ${response.status} ${JSON.stringify(answer)}`);
                }
            },
        },
        {
            trigger: ".modal button:contains(Done)",
            run: "click",
        },
        {
            content: "The key is listed, valid",
            trigger: ".o_data_row:contains(Plataforma Integra)",
        },
        ...openMenu("Usage", "Usage Events"),
        {
            content: "Both events arrived",
            trigger: ".o_data_row:contains(Integra Tecnologia):contains(1,200.0)",
        },
        {
            trigger: ".o_data_row:contains(Integra Tecnologia):contains(300.0)",
        },
        ...openMenu("Billing", "Contracts"),
        {
            trigger: ".o_data_row:contains(Integra Tecnologia) .o_data_cell",
            run: "click",
        },
        { trigger: ".o_breadcrumb .active:contains(CTR/)" },
        {
            content: "Open the usage statement",
            trigger: ".o_form_view button[name=action_open_usage_statement]",
            run: "click",
        },
        {
            content: "1,500 calls at 0.05: 75.00",
            trigger: ".modal .o_field_widget[name=total]:contains(75.00)",
        },
    ],
});

/** The customer reads the usage the integrator sent, on the portal. */
registry.category("web_tour.tours").add("rbm_portal_usage_tour", {
    url: "/my/subscriptions",
    steps: () => [
        {
            trigger: "tr:contains(Plano API) a:contains(CTR/)",
            run: "click",
        },
        {
            trigger: ".o_rbm_usage_link a:contains(Usage statement)",
            run: "click",
        },
        {
            content: "1,500 calls, 75.00 of usage charges",
            trigger: ".o_rbm_usage_summary tr:contains(Chamadas de API):contains(1,500)",
        },
        {
            trigger: ".o_rbm_usage_summary tfoot:contains(75.00)",
        },
    ],
});
