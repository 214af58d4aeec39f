"""FLOPs of one training step, and the peaks that turn achieved FLOP/s into MFU (model FLOPs utilisation).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode``: the matrix products and
convolutions (forward and backward) torch's counter knows; element-wise operations, normalisation and
the optimizer's update are not counted, so achieved FLOP/s and MFU are floors.

Peaks are dense (no structured sparsity) tensor-core bf16 and non-tensor-core fp32 TFLOP/s from NVIDIA's
datasheets, matched on the name ``torch.cuda.get_device_name`` gives (SXM boards where the name does
not say PCIe or NVL). With fp32 inputs cuDNN may still run convolutions in TF32 on tensor cores (torch's
default), so an fp32 MFU can read high.
"""

from __future__ import annotations

from typing import Any, Callable

from torch.utils.flop_counter import FlopCounterMode

COUNTED = "the matmul/conv FLOPs torch's counter knows, forward and backward"
# (name fragment, dense bf16 TFLOP/s, fp32 TFLOP/s), most specific fragment first
PEAKS: tuple[tuple[str, float, float], ...] = (
    ("H200 NVL", 835.5, 60.0),
    ("H200", 989.5, 67.0),
    ("H100 NVL", 835.5, 60.0),
    ("H100 PCIe", 756.5, 51.2),
    ("H100", 989.5, 67.0),
    ("A100", 312.0, 19.5),
    ("L40S", 362.05, 91.6),
)


def count_flops(step: Callable[[], Any]) -> int:
    """The FLOPs torch's counter sees while ``step()`` runs (once)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def peak_tflops(device_name: str, dtype: str) -> float | None:
    """The dense ``dtype`` ("bf16" or "fp32") peak of the GPU named ``device_name``; None if unknown."""
    for fragment, bf16, fp32 in PEAKS:
        if fragment in device_name:
            return {"bf16": bf16, "fp32": fp32}[dtype]
    return None


def mfu_line(device_name: str | None, achieved: list[tuple[str, str, float]]) -> str:
    """``MFU on <GPU>: <label> <share> % of the dense <dtype> peak <P> TFLOP/s; ...`` from ``(label,
    dtype, achieved TFLOP/s)`` entries, grouped by dtype; ``MFU: n/a ...`` on a CPU (``device_name``
    None) and for a GPU without a known peak."""
    if device_name is None:
        known = ", ".join(fragment for fragment, *_ in PEAKS)
        return f"MFU: n/a on a CPU (peaks are known for GPUs only: {known})"
    parts = []
    for kind in dict.fromkeys(dtype for _, dtype, _ in achieved):
        peak = peak_tflops(device_name, kind)
        shares = ", ".join(
            f"{label} {'n/a' if peak is None else f'{100 * tflops / peak:.1f} %'}"
            for label, dtype, tflops in achieved
            if dtype == kind
        )
        unit = "(unknown for this GPU)" if peak is None else f"{peak:g} TFLOP/s"
        parts.append(f"{shares} of the dense {kind} peak {unit}")
    return f"MFU on {device_name}: " + "; ".join(parts)
