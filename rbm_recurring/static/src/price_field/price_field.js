import { localization } from "@web/core/l10n/localization";
import { registry } from "@web/core/registry";
import { FloatField, floatField } from "@web/views/fields/float/float_field";

/**
 * A price kept with more decimals than money shows (usage prices have 6):
 * shown with at least 2 decimals and only the others that are not zero —
 * 99,90 for a monthly fee, 0,005 or 0,000125 for a usage price — instead of
 * 99,900000. The value stored and typed is the field's own.
 */
export function trimPriceDecimals(text, decimalPoint = localization.decimalPoint) {
    const point = text.lastIndexOf(decimalPoint);
    if (point < 0 || !/^\d+$/.test(text.slice(point + decimalPoint.length))) {
        return text;
    }
    let end = text.length;
    while (end > point + decimalPoint.length + 2 && text[end - 1] === "0") {
        end--;
    }
    return text.slice(0, end);
}

export class RbmPriceField extends FloatField {
    get formattedValue() {
        return trimPriceDecimals(super.formattedValue);
    }
}

export const rbmPriceField = { ...floatField, component: RbmPriceField };

registry.category("fields").add("rbm_price", rbmPriceField);
