# Put on PYTHONPATH for a real `diagnoser serve` started by the client tests: this checkout's migrations/ and rules/
# stand for the packages diagnoser._migrations and diagnoser._rules, whatever `pip install -e` of another clone
# mapped them to (an editable install maps them to that clone's folders, and PYTHONPATH alone cannot override it).
import importlib.abc
import importlib.util
import os
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
_FOLDERS = {"diagnoser._migrations": os.path.join(_REPO, "migrations"), "diagnoser._rules": os.path.join(_REPO, "rules")}


class _CheckoutFolders(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        folder = _FOLDERS.get(fullname)
        if folder is None:
            return None
        init = os.path.join(folder, "__init__.py")
        if os.path.exists(init):
            return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=[folder])
        spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
        spec.submodule_search_locations = [folder]
        return spec


sys.meta_path.insert(0, _CheckoutFolders())
