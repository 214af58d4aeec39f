"""The fast-step settings change the memory layout and the kernels, never the numbers a step computes."""

from __future__ import annotations

import contextlib
import copy
import os

import pytest
import torch
import torch._functorch.config as functorch_config

from dglnb.data import to_device
from dglnb.errors import ConfigError
from dglnb.methods import METHODS
from dglnb.train.speed import (
    batch_channels_last,
    compile_model,
    make_optimizer,
    optimizer_flags,
    to_channels_last,
)
from tiny_models import AUDIO_VISUAL, VECTORS, make_batch, tiny_model


def float_model(info, seed: int = 0):
    return tiny_model(info, seed=seed).float()


def float_batch(info, seed: int = 1) -> dict:
    return {
        k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
        for k, v in make_batch(info, n=6, seed=seed).items()
    }


def losses_of_steps(method_name: str, model, optimizer, batches) -> list[dict[str, float]]:
    method = METHODS.get(method_name)()
    return [method.train_step(model, batch, optimizer) for batch in batches]


def test_channels_last_converts_every_conv_weight():
    model = to_channels_last(float_model(AUDIO_VISUAL))
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert all(
        not w.is_contiguous() for w in convs if w.shape[1] > 1 and w.shape[2] > 1
    )  # the layouts differ there


def test_batch_channels_last_converts_only_4d_float_inputs():
    batch = {
        "image": torch.randn(2, 3, 4, 5),
        "frames": torch.randn(2, 3, 1, 4, 5),
        "vector": torch.randn(2, 3),
        "label": torch.tensor([0, 1]),
        "id": ["a", "b"],
    }
    fast = batch_channels_last(batch)
    assert (
        fast["image"].is_contiguous(memory_format=torch.channels_last)
        and not fast["image"].is_contiguous()
    )
    assert torch.equal(fast["image"], batch["image"])
    assert all(fast[k] is batch[k] for k in ("frames", "vector", "label", "id"))


def test_channels_last_leaves_a_model_without_convolutions_alone():
    model = float_model(VECTORS)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    to_channels_last(model)
    assert all(
        torch.equal(before[k], v) and v.is_contiguous() for k, v in model.state_dict().items()
    )
    assert batch_channels_last(float_batch(VECTORS))["audio"].is_contiguous()


def test_optimizer_is_fused_on_cpu_where_torch_has_the_kernels():
    assert optimizer_flags("cpu") == {"fused": True}
    optimizer = make_optimizer([{"params": [torch.nn.Parameter(torch.ones(2))]}], "cpu", lr=0.1)
    assert optimizer.defaults["fused"] is True and optimizer.defaults["momentum"] == 0.9


def fast_kernels(device: str) -> contextlib.AbstractContextManager:
    """The kernels the fast side runs on: on CUDA, cuDNN's channels-last convolutions, the full fast path
    (in fp32, TF32 off, to compare with the CPU's fp32 steps); on a CPU torch's own channels-last
    convolutions, oneDNN off (its AVX2 channels-last backward corrupts memory in torch 2.13:
    ``dglnb.train.speed.channels_last_is_sound``), so that the layout logic is still tested there on a
    sound kernel path."""
    if device == "cpu":
        return torch.backends.mkldnn.flags(enabled=False)
    return torch.backends.cudnn.flags(enabled=True, allow_tf32=False)


NO_GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=NO_GPU)]


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")  # printed by mkldnn.flags
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method_name", ["vanilla", "dgl"])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_fused_channels_last_steps_match_plain_steps(method_name, kind, device):
    batches = [float_batch(AUDIO_VISUAL, seed=s) for s in (1, 2, 3)]
    plain = float_model(AUDIO_VISUAL)
    fast = to_channels_last(copy.deepcopy(plain).to(device))
    reference = (
        torch.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4, foreach=False)
        if kind == "sgd"
        else torch.optim.Adam(plain.parameters(), lr=1e-3, weight_decay=1e-4, foreach=False)
    )
    optimizer = make_optimizer(
        [{"params": list(fast.parameters())}],
        device,
        kind,
        lr=0.05 if kind == "sgd" else 1e-3,
        weight_decay=1e-4,
    )
    assert optimizer.defaults["fused"] is True
    expected = losses_of_steps(method_name, plain, reference, batches)
    with fast_kernels(device):
        on_device = [batch_channels_last(to_device(b, torch.device(device))) for b in batches]
        got = losses_of_steps(method_name, fast, optimizer, on_device)
    for e, g in zip(expected, got):
        assert e.keys() == g.keys() and all(
            g[k] == pytest.approx(e[k], rel=1e-4, abs=1e-5) for k in e
        )
    # the layout held through the steps, and the weights agree: fp32 kernels that sum in another order
    # differ by about 1e-4 after three steps; a weight read in the wrong layout is off by its own size
    for name, p in fast.named_parameters():
        assert p.dim() != 4 or p.is_contiguous(memory_format=torch.channels_last), name
        torch.testing.assert_close(p.cpu(), dict(plain.named_parameters())[name], rtol=0, atol=1e-3)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_fused_optimizer_updates_like_the_plain_loop(kind):
    torch.manual_seed(0)
    start = [torch.randn(3, 4), torch.randn(5)]
    plain, fused = ([torch.nn.Parameter(t.clone()) for t in start] for _ in range(2))
    reference = (
        torch.optim.SGD(plain, lr=0.05, momentum=0.9, weight_decay=1e-4, foreach=False)
        if kind == "sgd"
        else torch.optim.Adam(plain, lr=1e-3, weight_decay=1e-4, foreach=False)
    )
    optimizer = make_optimizer(
        [{"params": fused}], "cpu", kind, lr=0.05 if kind == "sgd" else 1e-3, weight_decay=1e-4
    )
    for _ in range(3):
        grads = [torch.randn_like(t) for t in start]
        for params, opt in ((plain, reference), (fused, optimizer)):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            opt.step()
    for p, q in zip(plain, fused):
        torch.testing.assert_close(q, p, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method_name", ["vanilla", "dgl", "mla"])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_a_cpu_runs_optimizer_takes_torchs_default_steps_bit_for_bit(method_name, kind):
    """A CPU run's optimizer (``fast`` off: foreach) against torch's default per-parameter loop, on the
    same model and batches, through methods that step every parameter, route gradients (DGL), or step
    one modality's parameters before the other's (MLA): every parameter equal, not merely close."""
    batches = [float_batch(AUDIO_VISUAL, seed=s) for s in (1, 2, 3)]
    models, methods = [float_model(AUDIO_VISUAL) for _ in range(2)], []
    settings = dict(lr=0.05 if kind == "sgd" else 1e-3, weight_decay=1e-4)
    for model in models:
        torch.manual_seed(0)  # MLA's shared head is initialised in setup
        methods.append(METHODS.get(method_name)())
        methods[-1].setup(model)
    groups = [method.param_groups(model, settings["lr"]) for method, model in zip(methods, models)]
    reference = (
        torch.optim.SGD(groups[0], momentum=0.9, foreach=False, **settings)
        if kind == "sgd"
        else torch.optim.Adam(groups[0], foreach=False, **settings)
    )
    optimizer = make_optimizer(groups[1], "cpu", kind, fast=False, **settings)
    assert optimizer.defaults["foreach"] is True
    for method, model, opt in zip(methods, models, (reference, optimizer)):
        torch.manual_seed(1)
        for batch in batches:
            method.train_step(model, batch, opt)
    for (name, p), q in zip(models[0].named_parameters(), models[1].parameters()):
        assert torch.equal(p, q), name


def test_fused_sgd_steps_parameters_that_get_gradients_later_like_the_plain_loop():
    """MLA steps one modality's encoder before the other's: torch's fused SGD alone fails on the step
    where one parameter has a momentum buffer and another none yet."""
    torch.manual_seed(0)
    start = [torch.randn(3, 4), torch.randn(5)]
    plain, fused = ([torch.nn.Parameter(t.clone()) for t in start] for _ in range(2))
    reference = torch.optim.SGD(plain, lr=0.05, momentum=0.9, weight_decay=1e-4, foreach=False)
    optimizer = make_optimizer([{"params": fused}], "cpu", lr=0.05, weight_decay=1e-4)
    assert optimizer.defaults["fused"] is True
    for stepped in ([0], [0, 1], [1], [0, 1]):  # the second parameter's first gradient comes later
        grads = [torch.randn_like(t) for t in start]
        for params, opt in ((plain, reference), (fused, optimizer)):
            opt.zero_grad(set_to_none=True)
            for i in stepped:
                params[i].grad = grads[i].clone()
            opt.step()
    for p, q in zip(plain, fused):
        torch.testing.assert_close(q, p, rtol=1e-6, atol=1e-7)  # fused kernels round apart


@pytest.fixture
def inductor_cache_of_this_cpu_capability(monkeypatch):
    """Inductor's on-disk cache, one folder per ATen CPU capability: kernels cached under
    ``ATEN_CPU_CAPABILITY=avx2`` (CI's emulated CPU) corrupt the heap when a native AVX-512 run loads
    them, and the other way round they fail ("SystemError: <built-in function kernel> returned a result
    with an exception set"; torch 2.13)."""
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    base = os.environ.get("TORCHINDUCTOR_CACHE_DIR") or default_cache_dir()
    capability = torch.backends.cpu.get_cpu_capability()
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", os.path.join(base, f"cpu-{capability}"))


@pytest.mark.usefixtures("inductor_cache_of_this_cpu_capability")
def test_compiled_dgl_steps_match_plain_steps():
    batches = [float_batch(VECTORS, seed=s) for s in (1, 2)]
    plain = float_model(VECTORS)
    compiled = compile_model(copy.deepcopy(plain), enabled=True)
    parts = [*compiled.encoders.values(), compiled.fusion]
    assert all(
        part._compiled_call_impl is not None for part in parts
    )  # what nn.Module.compile() sets
    assert (
        functorch_config.donated_buffer is False
    )  # DGL's backward(retain_graph=True) needs them off
    expected = losses_of_steps(
        "dgl", plain, torch.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9), batches
    )
    got = losses_of_steps(
        "dgl",
        compiled,
        make_optimizer([{"params": list(compiled.parameters())}], "cpu", lr=0.05),
        batches,
    )
    for e, g in zip(expected, got):
        assert all(g[k] == pytest.approx(e[k], rel=1e-4, abs=1e-5) for k in e)


def test_compile_is_off_by_default():
    model = float_model(VECTORS)
    assert (
        compile_model(model) is model
        and model.encoders["audio"].forward.__func__ is type(model.encoders["audio"]).forward
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"optimizer": "rmsprop", "lr": 0.1}, "unknown optimizer 'rmsprop'"),
        ({"lr": 0.0}, "need lr > 0"),
        ({"lr": 0.1, "momentum": -1.0}, "momentum >= 0"),
    ],
)
def test_bad_optimizer_settings_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_optimizer([{"params": [torch.nn.Parameter(torch.ones(2))]}], "cpu", **kwargs)


def test_compile_flag_must_be_a_bool():
    with pytest.raises(ConfigError, match="compile must be True or False"):
        compile_model(float_model(VECTORS), enabled="yes")
