import { registry } from "@web/core/registry";

/**
 * The customer's journey on the portal: the subscription, a plan change
 * read in its preview and confirmed, then the overdue invoice paid the ways
 * it offers: its boleto (the PDF), its Pix code, and the saved card.
 */
registry.category("web_tour.tours").add("rbm_portal_customer_tour", {
    url: "/my",
    steps: () => [
        {
            content: "The overdue banner names the invoice",
            trigger: ".o_rbm_overdue_banner:contains(INV/)",
        },
        {
            content: "Its boleto is a PDF to print",
            trigger: ".o_rbm_overdue_banner a.o_rbm_pay_boleto",
            async run() {
                const response = await fetch(this.anchor.getAttribute("href"));
                const type = response.headers.get("Content-Type") || "";
                if (response.status !== 200 || !type.includes("application/pdf")) {
                    throw new Error(`boleto answered ${response.status} ${type}`);
                }
            },
        },
        {
            content: "Open my subscriptions",
            trigger: "a[href='/my/subscriptions']",
            run: "click",
        },
        {
            content: "Open the subscription",
            trigger: "tr:contains(Mensal) a:contains(CTR/)",
            run: "click",
        },
        {
            content: "Change the plan",
            trigger: "a:contains(Change plan or quantities)",
            run: "click",
        },
        {
            trigger: "select[name=new_plan_id]",
            run: "selectByLabel Mensal Plus",
        },
        {
            trigger: "form:has(select[name=new_plan_id]) button:contains(See the amounts)",
            run: "click",
        },
        {
            content: "The preview gives the new price per period",
            trigger: ".o_rbm_change_preview:contains(250.00)",
        },
        {
            trigger: ".o_rbm_change_preview button:contains(Confirm the change)",
            run: "click",
        },
        {
            content: "Back on the subscription, on the new plan",
            trigger: "h3:contains(Mensal Plus), h2:contains(Mensal Plus), .o_portal_wrap:contains(Mensal Plus)",
        },
        {
            content: "Pay by Pix: the invoice shows its Pix code",
            trigger: ".o_rbm_overdue_banner a.o_rbm_pay_pix",
            run: "click",
        },
        {
            trigger: "#rbm_boletos input[value^='000201']",
        },
        {
            content: "Back to the banner",
            trigger: "a[href='/my/home'], a[href='/my']",
            run: "click",
        },
        {
            content: "Pay by card",
            trigger: ".o_rbm_overdue_banner a.o_rbm_pay_card",
            run: "click",
        },
        {
            content: "The saved card is offered",
            trigger: ".o_payment_form [name=o_payment_option]:contains(4242) input[name=o_payment_radio]:checked",
        },
        {
            trigger: "button[name=o_payment_submit_button]:not([disabled])",
            run: "click",
        },
        {
            content: "The payment went through",
            trigger: ".alert:contains(successfully processed)",
            timeout: 20000,
        },
        {
            content: "The invoice is paid",
            trigger: ".badge:contains(Paid)",
        },
    ],
});
