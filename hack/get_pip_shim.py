"""Stand-in for ansible-test's pip bootstrap script (get-pip.py from ci-files.testing.ansible.com, unreachable here).

ansible-test runs it inside a fresh virtualenv with pip options and the pinned packages (pip==X, setuptools, wheel).
This installs the bundled pip with ensurepip, then installs the requested packages from the package index that
this machine does reach (PyPI). get-pip-only flags (--no-setuptools, --no-wheel) are dropped.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
