"""Make each addon's plain-Python ``engine`` package importable without Odoo.

Importing ``rbm_<addon>.engine`` the normal way would run the addon's
``__init__.py``, which imports ``odoo``. Instead, every top-level
``rbm_*/engine`` folder is loaded as a standalone package named
``<addon>_engine`` (e.g. ``rbm_recurring_engine``), so tests can do
``from rbm_recurring_engine import periods``.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _register_engine(addon_dir):
    engine_dir = addon_dir / "engine"
    init = engine_dir / "__init__.py"
    if not init.is_file():
        return
    name = f"{addon_dir.name}_engine"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(engine_dir)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


for _addon in sorted(ROOT.glob("rbm_*")):
    if _addon.is_dir():
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
