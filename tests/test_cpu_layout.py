"""No path a CPU run takes convolves in the channels-last layout (``dglnb.train.speed.channels_last_is_sound``):
oneDNN's AVX2 channels-last convolution backward corrupts memory in torch 2.13, and oneDNN takes that
path when either the input or the weight is channels-last. Every convolution of a training run (its
steps, gradient diagnostics, evaluation and linear probe) and of the CPU benchmark is checked."""

import importlib

import pytest
import torch

from dglnb.config import TrainConfig
from dglnb.config.profiles import sized
from dglnb.data.cremad import prepare as prepare_cremad
from dglnb.data.nyuv2 import prepare as prepare_nyuv2
from dglnb.paths import repo_root
from dglnb.train import train
from dglnb.train.speed import channels_last_is_sound
from fixtures.cremad import make_cremad
from fixtures.nyuv2 import make_nyuv2


def channels_last_only(tensor: torch.Tensor) -> bool:
    """Strided as channels-last and not as the plain layout (a 1-channel or 1x1 tensor is both)."""
    return tensor.is_contiguous(memory_format=torch.channels_last) and not tensor.is_contiguous()


class ConvolutionLayouts:
    """Counts every Conv2d call while active, and the ones with a channels-last input or weight."""

    def __init__(self) -> None:
        self.calls, self.channels_last = 0, []

    def __enter__(self) -> "ConvolutionLayouts":
        def check(module, inputs):
            if isinstance(module, torch.nn.Conv2d):
                self.calls += 1
                if channels_last_only(inputs[0]) or channels_last_only(module.weight):
                    self.channels_last.append(f"{module} on input {tuple(inputs[0].shape)}")

        self.handle = torch.nn.modules.module.register_module_forward_pre_hook(check)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    raw, root = tmp_path_factory.mktemp("raw"), tmp_path_factory.mktemp("data")
    make_cremad(raw / "cremad", per_class=2)
    prepare_cremad(raw / "cremad", root / "cremad", val_share=0.25, frame_side=32)
    mat, splits, mapping = make_nyuv2(raw / "nyuv2")
    prepare_nyuv2(mat, splits, mapping, root / "nyuv2")
    return root


def test_channels_last_is_sound_on_cuda_only():
    assert channels_last_is_sound("cuda") and channels_last_is_sound(torch.device("cuda", 0))
    assert not channels_last_is_sound("cpu") and not channels_last_is_sound(torch.device("cpu"))


@pytest.mark.parametrize(
    "dataset, profile, overrides",
    [
        ("avdigits", "smoke", {}),  # per-sample files path, images and spectrograms
        ("rgbd_scenes", "smoke", {}),  # the segmenter
        ("cremad", "full", {"data_path": "memory"}),  # arrays in memory, batched augmentation
        ("cremad", "full", {"data_path": "mapped"}),
        ("cremad", "full", {"data_path": "files"}),
        ("nyuv2", "smoke", {}),  # prepared RGB-D, read per sample
    ],
)
def test_no_cpu_training_path_convolves_in_channels_last(
    data_root, tmp_path, dataset, profile, overrides
):
    root = data_root / dataset if (data_root / dataset).is_dir() else None
    sizes = sized(dataset, "smoke") if profile == "full" else {}
    config = TrainConfig(
        dataset=dataset,
        method="dgl",
        profile=profile,
        data_root=root,
        out=tmp_path / "run",
        device="cpu",
        progress=False,
        **{**sizes, "epochs": 1, **overrides},
    )
    with ConvolutionLayouts() as layouts:
        train(config)
    assert layouts.calls > 0 and layouts.channels_last == []


def test_the_cpu_benchmark_convolves_in_the_plain_layout(monkeypatch):
    monkeypatch.syspath_prepend(str(repo_root() / "benchmarks"))
    step_time = importlib.import_module("step_time")

    shapes = step_time.SHAPES["small"]
    model = step_time.build_model(shapes.info, width=4)
    runs = step_time.fast_runs(shapes, 2, torch.device("cpu"), model)
    with ConvolutionLayouts() as layouts:
        step_time.measure(runs, torch.device("cpu"), steps=1, warmup=0)
    assert layouts.calls > 0 and layouts.channels_last == []
