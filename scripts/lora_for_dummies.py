"""The only file the webui runs. Kept tiny: it puts our package on sys.path and registers tabs.

The extension's folder name is whatever the user cloned it as, so the package is found from this
file's own location, never as `extensions.<folder>`.
"""

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from lora_for_dummies.hosts.webui import register  # noqa: E402

register()
