/**
 * Steps the RBM tours share: choosing a record in a many2one field as a user
 * types it, and opening a menu of the app's navbar.
 */
export function pickMany2one(fieldName, text, scope = "") {
    return [
        {
            content: `Type ${text} in ${fieldName}`,
            trigger: `${scope} .o_field_widget[name=${fieldName}] input`,
            run: `edit ${text}`,
        },
        {
            content: "Let the search run (the list shown on focus is replaced after 250 ms)",
            trigger: `${scope} .o_field_widget[name=${fieldName}] input`,
            run: () => new Promise((resolve) => setTimeout(resolve, 400)),
        },
        {
            content: `Choose ${text}`,
            trigger: `.o-autocomplete--dropdown-menu:not(:has(.o_loading)) .dropdown-item:contains(${text})`,
            run: "click",
        },
        {
            content: `${text} is chosen`,
            trigger: `body:not(:has(.o-autocomplete--dropdown-menu)) ${scope} .o_field_widget[name=${fieldName}] input:value(${text})`,
        },
    ];
}

export function openMenu(section, item, dialog = false) {
    const opened = dialog
        ? { content: `${item} is open`, trigger: `.modal .modal-title:contains(${item})` }
        : { content: `${item} is open`, trigger: `.o_breadcrumb .active:contains(${item})` };
    return [
        {
            content: `Open the ${section} menu`,
            trigger: `.o_menu_sections .dropdown-toggle:contains(${section})`,
            run: "click",
        },
        {
            content: `Open ${item}`,
            trigger: `.o-dropdown--menu .dropdown-item:contains(${item})`,
            run: "click",
        },
        opened,
    ];
}
