"""``python -m dglnb``: the ``dglnb`` command, as ``torchrun --nproc_per_node N -m dglnb train ...`` launches it."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
