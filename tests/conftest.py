"""Make each addon's plain-Python ``engine`` package importable without Odoo.

Inside Odoo an engine is ``odoo.addons.<addon>.engine``, and the engines of
the other addons share the money module of ``rbm_recurring`` by a relative
import that climbs to ``odoo.addons``::

    from ...rbm_recurring.engine import money  # odoo.addons.rbm_recurring.engine.money

Importing ``odoo.addons.<addon>`` here would run the addon's ``__init__.py``,
which imports ``odoo``. So the same layout is rebuilt under a package of its
own, ``rbm_addons``: ``rbm_addons.<addon>`` is an empty package whose path is
the addon's folder (its ``__init__.py`` is never run), so
``rbm_addons.<addon>.engine`` is the real engine package and the relative
import above resolves to ``rbm_addons.rbm_recurring.engine.money`` -- one
copy of the module, no ``odoo`` import, no path hack in the engines.

Every engine module is also registered as ``<addon>_engine.<module>`` (e.g.
``from rbm_recurring_engine import periods``), the name the tests use.
"""

import importlib
import importlib.util
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "rbm_addons"


def _package(name, paths):
    module = types.ModuleType(name)
    module.__path__ = [str(path) for path in paths]
    module.__package__ = name
    sys.modules[name] = module
    return module


def _register_engine(addon_dir):
    engine_dir = addon_dir / "engine"
    alias = f"{addon_dir.name}_engine"
    if alias in sys.modules:
        return
    engine = importlib.import_module(f"{NAMESPACE}.{addon_dir.name}.engine")
    sys.modules[alias] = engine
    for source in sorted(engine_dir.glob("*.py")):
        if source.stem != "__init__":
            sys.modules[f"{alias}.{source.stem}"] = importlib.import_module(
                f"{engine.__name__}.{source.stem}"
            )


# the empty addon packages first: an engine may import another addon's engine
_ADDONS = [a for a in sorted(ROOT.glob("rbm_*")) if (a / "engine" / "__init__.py").is_file()]
if NAMESPACE not in sys.modules:
    _package(NAMESPACE, [])
    for _addon in _ADDONS:
        setattr(
            sys.modules[NAMESPACE], _addon.name, _package(f"{NAMESPACE}.{_addon.name}", [_addon])
        )
for _addon in _ADDONS:
    _register_engine(_addon)


def _register_test_servers(addon_dir):
    """``rbm_x/tests/<name>_server.py`` (no Odoo import) as ``rbm_x_<name>_server``."""
    for path in sorted((addon_dir / "tests").glob("*_server.py")):
        name = f"{addon_dir.name}_{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise


for _addon in sorted(ROOT.glob("rbm_*")):
    if _addon.is_dir() and (_addon / "tests").is_dir():
        _register_test_servers(_addon)
