"""Arrays of a prepared split: batches equal the per-sample DataLoader's, mapped arrays equal in-memory
ones, unfinished or corrupt array folders are refused with what to do."""

import os
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dglnb.data import split_arrays
from dglnb.data.cremad import prepare
from dglnb.data.errors import DataError
from dglnb.data.memory import ArrayAV, ArrayLoader, load_arrays, open_arrays, to_arrays
from dglnb.data.prep import atomic_save_npy
from dglnb.data.prepared import PreparedAV
from dglnb.errors import UserError
from fixtures.cremad import make_cremad

SEED = 7


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """18 CREMA-D clips at 48x48 (so the smoke profile resizes); two clips rewritten with 2 and 5 random
    frames so that clips differ in length and a drawn frame shows in the pixels."""
    raw, out = tmp_path_factory.mktemp("raw"), tmp_path_factory.mktemp("prepared")
    make_cremad(raw, per_class=3)
    prepare(raw, out, val_share=0.25, frame_side=48)
    rng = np.random.default_rng(0)
    train = PreparedAV(out, "cremad", "train", profile="smoke", frames=1).ids
    for sample_id, frames in zip(train[:2], (2, 5)):
        atomic_save_npy(
            out / "visual" / f"{sample_id}.npy",
            rng.integers(0, 256, (frames, 48, 48, 3), dtype=np.uint8),
        )
    return out


def split(root, name="train", profile="smoke", frames=1):
    return PreparedAV(root, "cremad", name, profile=profile, frames=frames)


def start(loader, epoch):
    """What the training loop does before each epoch: reseed the shuffle, tell the dataset its epoch."""
    loader.generator.manual_seed(SEED * 100_003 + epoch)
    loader.dataset.set_epoch(SEED, epoch)


def per_sample_batches(dataset, epoch, batch_size=4):
    generator = torch.Generator()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)
    start(loader, epoch)
    return list(loader)


def array_batches(dataset, epoch, batch_size=4, num_workers=0):
    loader = ArrayLoader(dataset, batch_size, shuffle=True, num_workers=num_workers)
    start(loader, epoch)
    return list(loader)


def assert_same_batches(expected, actual):
    assert len(expected) == len(actual)
    for want, got in zip(expected, actual):
        assert want.keys() == got.keys()
        assert want["id"] == got["id"]
        for key in ("audio", "visual", "label"):
            assert want[key].dtype == got[key].dtype and want[key].shape == got[key].shape
            assert torch.equal(want[key], got[key]), key


@pytest.mark.parametrize(
    ("name", "profile", "frames"),
    [("train", "smoke", 1), ("train", "full", 1), ("test", "smoke", 1), ("train", "smoke", 3)],
)
def test_memory_batches_equal_the_per_sample_loader_epoch_by_epoch(prepared, name, profile, frames):
    dataset = split(prepared, name, profile, frames)
    arrays = ArrayAV(dataset, load_arrays(dataset))
    for epoch in (0, 1):
        assert_same_batches(per_sample_batches(dataset, epoch), array_batches(arrays, epoch))


def test_stored_batches_are_the_compact_dtypes(prepared):
    dataset = split(prepared)
    stored = ArrayAV(dataset, load_arrays(dataset))[[3, 0, 1]]
    assert stored["audio"].dtype == torch.float16 and stored["audio"].shape == (3, 257, 299)
    assert stored["visual"].dtype == torch.uint8 and stored["visual"].shape == (3, 1, 48, 48, 3)
    assert stored["label"].tolist() == [dataset.labels[i] for i in (3, 0, 1)]
    assert stored["id"] == [dataset.ids[i] for i in (3, 0, 1)]


def test_training_frame_is_redrawn_each_epoch_and_fixed_for_evaluation(prepared):
    arrays = ArrayAV(split(prepared), load_arrays(split(prepared)))
    everyone = range(len(arrays))
    assert (
        arrays.frame_rows(everyone)[:, 0] == arrays.arrays.first
    ).all()  # no epoch told: the first frame
    arrays.set_epoch(SEED, 0)
    epoch0 = arrays.frame_rows(everyone)
    assert np.array_equal(
        arrays.frame_rows([5, 0]), epoch0[[5, 0]]
    )  # a sample's draw ignores its batch
    arrays.set_epoch(SEED, 1)
    epoch1 = arrays.frame_rows(everyone)
    assert (epoch0 != epoch1).any()
    first, count = arrays.arrays.first[:, None], arrays.arrays.count[:, None]
    assert ((first <= epoch0) & (epoch0 < first + count)).all()


def test_mapped_arrays_equal_the_in_memory_ones(prepared, tmp_path):
    dataset = split(prepared)
    folder = to_arrays(dataset, tmp_path / "arrays")
    mapped, loaded = open_arrays(dataset, folder), load_arrays(dataset)
    assert isinstance(mapped.frames, np.memmap)
    for name in split_arrays.NAMES:
        assert np.array_equal(
            np.asarray(getattr(mapped, name)), np.asarray(getattr(loaded, name))
        ), name
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{n}.npy" for n in split_arrays.NAMES] + ["ids.json"]
    )


def test_mapped_arrays_travel_to_a_worker_as_their_folder(prepared, tmp_path):
    dataset = split(prepared)
    mapped = open_arrays(dataset, to_arrays(dataset, tmp_path / "arrays"))
    message = pickle.dumps(mapped)
    assert len(message) < 2_000 < mapped.frames.nbytes
    assert np.array_equal(pickle.loads(message).frames, mapped.frames)


def test_workers_over_mapped_arrays_draw_per_sample_and_epoch(prepared, tmp_path):
    dataset = split(prepared)
    mapped = ArrayAV(dataset, open_arrays(dataset, to_arrays(dataset, tmp_path / "arrays")))
    epochs = [array_batches(mapped, epoch, num_workers=2) for epoch in (0, 1)]
    for epoch, batches in enumerate(epochs):
        assert_same_batches(per_sample_batches(dataset, epoch), batches)
    assert any(
        not torch.equal(a["visual"], b["visual"])
        for a, b in zip(*(sorted(e, key=lambda batch: batch["id"]) for e in epochs))
    )


def test_arrays_of_another_split_are_refused(prepared, tmp_path):
    folder = to_arrays(split(prepared, "train"), tmp_path / "arrays")
    with pytest.raises(DataError, match="other samples.*re-run to_arrays"):
        open_arrays(split(prepared, "test"), folder)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_corrupt_array_file_says_to_rerun_the_step(prepared, tmp_path, damage):
    dataset = split(prepared)
    folder = to_arrays(dataset, tmp_path / "arrays")
    path = folder / "frames.npy"
    data = path.read_bytes()
    path.write_bytes(
        data[: len(data) // 2] if damage == "truncate" else b"not an array" + data[200:]
    )
    with pytest.raises(
        UserError, match=r"frames\.npy is missing, corrupt or half-written.*re-run to_arrays"
    ):
        open_arrays(dataset, folder)


def test_an_interrupted_write_leaves_no_half_written_array(prepared, tmp_path, monkeypatch):
    dataset = split(prepared)
    renamed, rename = [], os.replace

    def killed_after_two(src, dst):
        if len(renamed) == 2:
            raise KeyboardInterrupt
        renamed.append(dst)
        rename(src, dst)

    monkeypatch.setattr(split_arrays.os, "replace", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        to_arrays(dataset, tmp_path / "arrays")
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "arrays").iterdir()) == ["audio.npy", "frames.npy"]
    with pytest.raises(UserError, match="no finished arrays.*re-run to_arrays"):
        open_arrays(dataset, tmp_path / "arrays")
    assert (
        open_arrays(dataset, to_arrays(dataset, tmp_path / "arrays")).frames.shape
        == load_arrays(dataset).frames.shape
    )


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_pinning_without_cuda_is_refused(prepared):
    with pytest.raises(DataError, match="pin=True needs"):
        load_arrays(split(prepared), pin=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("where", ["cuda", "pinned", "mapped"])
def test_batches_from_gpu_pinned_or_mapped_arrays_match_on_the_gpu(prepared, tmp_path, where):
    dataset = split(prepared)
    arrays = {
        "cuda": lambda: load_arrays(dataset, device="cuda"),
        "pinned": lambda: load_arrays(dataset, pin=True),
        "mapped": lambda: open_arrays(dataset, to_arrays(dataset, tmp_path / "arrays")),
    }[where]()
    loader = ArrayLoader(ArrayAV(dataset, arrays), 4, shuffle=True, device="cuda")
    assert loader.dataset[[0, 1]]["visual"].is_pinned() == (where == "pinned")
    assert loader.pin_memory == (
        where == "mapped"
    )  # host batches bound for the GPU are pinned once
    start(loader, 0)
    for want, got in zip(per_sample_batches(dataset, 0), loader, strict=True):
        assert got["visual"].device.type == "cuda" and got["id"] == want["id"]
        assert torch.equal(got["label"].cpu(), want["label"]) and torch.equal(
            got["audio"].cpu(), want["audio"]
        )
        torch.testing.assert_close(
            got["visual"].cpu(), want["visual"], atol=1e-4, rtol=0
        )  # CUDA's resampling
