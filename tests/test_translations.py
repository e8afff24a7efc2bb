"""The Brazilian Portuguese catalogues against their templates (plain pytest).

Odoo reads an addon's ``pt_BR.po`` merged with its ``.pot``: an entry of the
``.po`` whose text is not in the ``.pot`` is dropped as obsolete, so a
translation added without regenerating the template is silently lost.
Every text of the template must have its translation.
"""

from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
ADDONS = sorted(p.parent.parent.name for p in ROOT.glob("*/i18n/pt_BR.po"))


@pytest.mark.parametrize("addon", ADDONS)
def test_every_text_of_the_template_is_translated(addon):
    pot = polib.pofile(str(ROOT / addon / "i18n" / f"{addon}.pot"))
    po = polib.pofile(str(ROOT / addon / "i18n" / "pt_BR.po"))
    translated = {entry.msgid for entry in po if entry.msgstr and not entry.obsolete}
    missing = [entry.msgid for entry in pot if entry.msgid and entry.msgid not in translated]
    assert not missing, f"{addon}: texts without a pt_BR translation: {missing[:10]}"


@pytest.mark.parametrize("addon", ADDONS)
def test_no_translation_is_lost_against_the_template(addon):
    """A translation whose text is not in the template (stale or added
    without regenerating it) is not read by Odoo."""
    pot_ids = {e.msgid for e in polib.pofile(str(ROOT / addon / "i18n" / f"{addon}.pot"))}
    po = polib.pofile(str(ROOT / addon / "i18n" / "pt_BR.po"))
    added = [e.msgid for e in po if e.msgstr and not e.obsolete and e.msgid not in pot_ids]
    assert not added, f"{addon}: translations of texts not in the template: {added[:10]}"
