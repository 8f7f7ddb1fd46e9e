"""Write config/reason.yaml from the parameter declarations (the single source of defaults).

    scripts/with-env python scripts/gen_reason_yaml.py > config/reason.yaml

test/test_config_files.py fails when the file and the declarations disagree.
"""

from __future__ import annotations

import sys

from cosmos_reason_ros.config import SPECS
from cosmos_reason_ros.config.params_file import params_yaml

if __name__ == "__main__":
    sys.stdout.write(params_yaml(SPECS))
