"""Settings for every pytest run of the repository: the tests and the notebooks (nbval).

torch.compile keeps its compiled kernels in one cache per user, and the cache's key does not include
the CPU kernel setting (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA): kernels compiled natively on an
AVX-512 machine were reused under the AVX2 emulation (make unit-avx2) and returned NaN. Each kernel
setting gets its own cache here, unless TORCHINDUCTOR_CACHE_DIR names one.
"""

import getpass
import os
import tempfile
from pathlib import Path

KERNEL_SETTING = "-".join(
    os.environ.get(name, "native") for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
).lower()
os.environ.setdefault(
    "TORCHINDUCTOR_CACHE_DIR",
    str(Path(tempfile.gettempdir()) / f"dglnb-inductor-{getpass.getuser()}-{KERNEL_SETTING}"),
)
