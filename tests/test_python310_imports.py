"""The report imports on Python 3.10, where ``tomllib`` is missing and ``tomli`` stands in."""

import subprocess
import sys

# Hide tomllib (as on Python 3.10) and offer its backport under the name tomli.
_AS_ON_310 = """
import sys, importlib
real = importlib.import_module("tomllib")
sys.modules["tomli"] = real
sys.modules["tomllib"] = None
import annotate.report.dimensions as d
assert d.tomllib is real
print("ok")
"""


def test_report_dimensions_import_without_tomllib():
    result = subprocess.run([sys.executable, "-c", _AS_ON_310], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
