"""Batched random resized crop + horizontal flip: the crop is torchvision's crop-then-resize, boxes lie in
the image, flips mirror, a clip shares one crop, and the draws follow the generator alone."""

import pytest
import torch
import torch.nn.functional as F

from dglnb.data.augment import Augment, crop_boxes, resized_crop, step_generator
from dglnb.errors import ConfigError


def frames(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def run(augment, x, seed):
    return augment(x, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("size", [24, 9])  # upsampling and downsampling crops
def test_each_sample_is_its_box_cropped_then_resized(size):
    x = frames(16, 3, 20, 24)
    boxes = crop_boxes(16, 20, 24, torch.Generator().manual_seed(1))
    out = resized_crop(x, boxes, torch.zeros(16, dtype=torch.bool), size)
    for b, (top, left, h, w) in enumerate(boxes.long().tolist()):
        crop = x[b : b + 1, :, top : top + h, left : left + w]
        expected = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
        torch.testing.assert_close(out[b : b + 1], expected, atol=1e-5, rtol=0)


def test_boxes_lie_inside_the_image_with_the_drawn_area_and_ratio():
    top, left, h, w = crop_boxes(4000, 20, 24, torch.Generator().manual_seed(2)).unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (h >= 1).all() and (w >= 1).all()
    assert (top + h <= 20).all() and (left + w <= 24).all()
    assert (top == top.round()).all() and (w == w.round()).all()
    share = h * w / (20 * 24)
    assert share.min() < 0.12 and share.max() == 1.0  # the whole scale range is reached
    assert (
        (w / h).log().abs() <= 0.5
    ).all()  # ratio 3/4..4/3 with whole-pixel rounding on sides >= 1


def test_no_fitting_try_falls_back_to_torchvisions_central_crop():
    boxes = crop_boxes(
        5, 10, 10, torch.Generator().manual_seed(0), scale=(0.9, 1.0), ratio=(3.0, 4.0)
    )
    assert boxes.tolist() == [[3.0, 0.0, 3.0, 10.0]] * 5  # width 10, height round(10 / 3), centred


def test_flip_mirrors_and_no_flip_keeps_the_image():
    x = frames(4, 3, 12, 12)
    whole = dict(scale=(1.0, 1.0), ratio=(1.0, 1.0))
    torch.testing.assert_close(run(Augment(flip=1.0, **whole), x, 0), x.flip(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(run(Augment(flip=0.0, **whole), x, 0), x, atol=1e-5, rtol=0)


def test_disabled_is_the_identity():
    x = frames(4, 3, 12, 12)
    assert run(Augment(enabled=False), x, 0) is x


def test_the_generator_alone_decides_the_draws():
    x = frames(8, 3, 16, 16)
    augment = Augment()
    assert torch.equal(run(augment, x, 5), run(augment, x, 5))
    assert not torch.equal(run(augment, x, 5), run(augment, x, 6))
    assert run(augment, x, 5).shape == x.shape
    assert run(Augment(size=8), x, 5).shape == (8, 3, 8, 8)


def test_every_frame_of_a_clip_gets_the_same_crop_and_flip():
    clip = frames(6, 3, 4, 16, 16)  # (B, C, T, H, W), frames differ over T
    out = run(Augment(), clip, 3)
    for t in range(4):
        torch.testing.assert_close(
            out[:, :, t], run(Augment(), clip[:, :, t].contiguous(), 3), atol=1e-5, rtol=0
        )


def test_step_generators_differ_by_seed_epoch_and_step():
    def draw(*key):
        return torch.rand(4, generator=step_generator(*key))

    assert torch.equal(draw(0, 1, 2), draw(0, 1, 2))
    for other in [(1, 1, 2), (0, 2, 2), (0, 1, 3)]:
        assert not torch.equal(draw(0, 1, 2), draw(*other))


def test_a_batch_has_only_its_frames_augmented():
    batch = {
        "audio": frames(2, 1, 8, 8),
        "visual": frames(2, 3, 1, 8, 8),
        "label": torch.tensor([0, 1]),
        "id": ["a", "b"],
    }
    out = Augment().batch(
        batch, {"audio": "spectrogram", "visual": "frames"}, torch.Generator().manual_seed(0)
    )
    assert (
        out["audio"] is batch["audio"]
        and out["label"] is batch["label"]
        and out["id"] == batch["id"]
    )
    assert not torch.equal(out["visual"], batch["visual"])


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="scale"):
        Augment(scale=(0.5, 0.1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_batch_augments_as_on_the_cpu():
    x = frames(8, 3, 2, 32, 32)
    on_gpu = run(Augment(), x.cuda(), 4)
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), run(Augment(), x, 4), atol=1e-5, rtol=0)
