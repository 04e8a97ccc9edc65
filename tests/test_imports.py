"""Every module imports on its own, first in a fresh interpreter (no import cycle hides behind
the order in which the rest of the package happens to be imported)."""

from __future__ import annotations

import subprocess
import sys

IMPORT_EACH_FIRST = """
import importlib, pkgutil, sys
import fedanomaly
names = [m.name for m in pkgutil.walk_packages(fedanomaly.__path__, "fedanomaly.")]
failed = []
for name in names:
    if name == "fedanomaly.__main__":  # runs the command line
        continue
    for loaded in [key for key in sys.modules if key.startswith("fedanomaly")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ImportError as error:
        failed.append(f"{name}: {error}")
print(len(names))
print("\\n".join(failed))
"""


def test_each_module_imports_first():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_FIRST], capture_output=True, text=True, check=True
    )
    count, *failed = done.stdout.strip().splitlines()
    assert int(count) > 50
    assert failed == []
