/** @odoo-module **/

import publicWidget from "@web/legacy/js/public/public_widget";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";

/**
 * Copy buttons of the portal invoice page (typeable line, Pix copy and paste).
 */
publicWidget.registry.RbmCopyButton = publicWidget.Widget.extend({
    selector: ".o_rbm_copy",
    events: { click: "_onClick" },

    async _onClick(ev) {
        ev.preventDefault();
        const label = this.el.querySelector(".o_rbm_copy_label");
        await browser.navigator.clipboard.writeText(this.el.dataset.copy || "");
        if (label) {
            const text = label.textContent;
            label.textContent = _t("Copied!");
            browser.setTimeout(() => (label.textContent = text), 1500);
        }
    },
});

export default publicWidget.registry.RbmCopyButton;
