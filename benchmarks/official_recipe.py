"""The official code's training recipe, emulated for ``step_time.py``: fp32, a default SGD, every sample
of every step decoded from files on disk (:class:`ClipFiles`: a JPEG with PIL, random crop and flip, a
wav into an STFT), and for DGL the official step (:func:`official_dgl_step`: main_dgl.py's one forward,
alpha * (L_a + L_v) backward with the graph kept, fusion gradients dropped, L_f backward, clipping at
40). The official code resamples each wav to 22.05 kHz first; that is not emulated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from dglnb.data.audio import file_spectrogram
from dglnb.data.prepared import IMAGENET_MEAN, IMAGENET_STD
from dglnb.methods import METHODS
from dglnb.models import MultimodalClassifier

LR, MOMENTUM, WEIGHT_DECAY = 1e-3, 0.9, 1e-4  # the official code's SGD
OFFICIAL_ALPHA, OFFICIAL_CLIP = 4.0, 40.0


def official_dgl_step(
    model: MultimodalClassifier, batch: dict, optimizer: torch.optim.Optimizer
) -> dict:
    """main_dgl.py:97-154: one forward; alpha * (L_a + L_v) backward keeping the graph; the fusion's
    gradients dropped; L_f (fusion on detached features) backward; clip all gradients at 40; step."""
    optimizer.zero_grad()
    y = batch["label"]
    feats = model.encode(batch)
    loss_multi = model.loss(model.fuse({m: z.detach() for m, z in feats.items()}), y)
    loss_unimodal = sum(model.loss(model.fuse_alone(feats, m), y) for m in model.modalities)
    (OFFICIAL_ALPHA * loss_unimodal).backward(retain_graph=True)
    for p in model.fusion_parameters():
        p.grad = None
    loss_multi.backward()
    nn.utils.clip_grad_norm_(model.parameters(), OFFICIAL_CLIP)
    optimizer.step()
    return {"loss_multi": loss_multi.item(), "loss_unimodal": loss_unimodal.item()}


def official_step(
    method_name: str, model: MultimodalClassifier, device: torch.device
) -> Callable[[dict], dict]:
    """A step function in the official recipe: fp32, default SGD, the official DGL step for ``dgl``."""
    model = model.to(device).train()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    if method_name == "dgl":
        return lambda batch: official_dgl_step(model, batch, optimizer)
    method = METHODS.get(method_name)()
    return lambda batch: method.train_step(model, batch, optimizer)


class ClipFiles:
    """A few real wav and JPEG files on disk, decoded afresh per sample as the official dataset does."""

    def __init__(
        self, folder: Path, shapes: Any, count: int = 8, frame_size: tuple[int, int] = (480, 360)
    ) -> None:
        import soundfile
        from PIL import Image

        self.spec, self.side, self.classes = shapes.spec, shapes.frame_side, shapes.info.num_classes
        rng = np.random.default_rng(0)
        self.clips = []
        ramp = np.linspace(0, 255, frame_size[0], dtype=np.float32)[None, :, None]
        for i in range(
            count
        ):  # a 2.5 s wav (tiled to 3 s when decoded, as CREMA-D's) and a 480x360 frame
            wav, jpg = folder / f"clip{i}.wav", folder / f"clip{i}.jpg"
            soundfile.write(
                wav,
                0.3 * rng.standard_normal(int(2.5 * self.spec.sample_rate)).astype(np.float32),
                self.spec.sample_rate,
                subtype="PCM_16",
            )
            noise = rng.normal(0, 20, (frame_size[1], frame_size[0], 3)).astype(np.float32)
            Image.fromarray(np.clip(ramp + noise + 10 * i, 0, 255).astype(np.uint8)).save(
                jpg, quality=90
            )
            self.clips.append((wav, jpg))
        self.rng = rng

    def frame(self, path: Path) -> torch.Tensor:
        """(3, 1, side, side): decode, random resized crop and flip, ImageNet normalisation."""
        from PIL import Image

        with Image.open(path) as image:
            image = image.convert("RGB")
        w, h = image.size
        crop = int(min(w, h) * np.sqrt(self.rng.uniform(0.08, 1.0)))
        x, y = self.rng.integers(0, w - crop + 1), self.rng.integers(0, h - crop + 1)
        image = image.resize((self.side, self.side), Image.BILINEAR, box=(x, y, x + crop, y + crop))
        if self.rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        frame = torch.from_numpy(np.array(image)).permute(2, 0, 1)[:, None].float().div_(255)
        return (frame - IMAGENET_MEAN) / IMAGENET_STD

    def batch(self, n: int) -> dict:
        picks = [self.clips[i % len(self.clips)] for i in range(n)]
        audio = [torch.from_numpy(file_spectrogram(wav, self.spec))[None] for wav, _ in picks]
        return {
            "audio": torch.stack(audio),
            "visual": torch.stack([self.frame(jpg) for _, jpg in picks]),
            "label": torch.arange(n) % self.classes,
            "id": [str(i) for i in range(n)],
        }
