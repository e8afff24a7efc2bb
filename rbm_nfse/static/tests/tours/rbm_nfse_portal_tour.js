import { registry } from "@web/core/registry";

/**
 * The customer opens its invoice in the portal: the NFS-e card shows the number,
 * the access key and the links to the DANFSe and the XML of that invoice.
 */

registry.category("web_tour.tours").add("rbm_nfse_portal_tour", {
    steps: () => [
        {
            content: "The invoice page shows its NFS-e, issued",
            trigger: "#rbm_nfse .o_rbm_nfse_state:contains(Issued), #rbm_nfse .o_rbm_nfse_state:contains(Emitida)",
        },
        {
            content: "with its 50-digit access key",
            trigger: "#rbm_nfse .o_rbm_nfse_key",
            run() {
                const key = this.anchor.textContent.trim();
                if (!/^\d{50}$/.test(key)) {
                    throw new Error(`access key shown: ${key}`);
                }
            },
        },
        {
            content: "the DANFSe link of this invoice",
            trigger: "#rbm_nfse a.o_rbm_nfse_danfse[href*='/nfse/danfse']",
        },
        {
            content: "and the XML link",
            trigger: "#rbm_nfse a.o_rbm_nfse_xml[href*='/nfse/xml']",
        },
        {
            content: "the sidebar offers the DANFSe too",
            trigger: ".o_rbm_nfse_download a.o_rbm_nfse_danfse",
        },
    ],
});
