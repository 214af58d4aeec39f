"""The spectrogram specs give the shapes the paper and the official code state."""

import numpy as np
import pytest
import soundfile

from dglnb.data.audio import SPECS, file_spectrogram, fit_length, get_spec, spectrogram

EXPECTED = {
    "paper": (257, 299),
    "paper_10s": (257, 1004),
    "official": (257, 188),
    "official_5s": (129, 626),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_shape_matches_the_stated_size(name):
    spec = get_spec(name)
    wave = np.random.default_rng(0).normal(0, 0.1, size=spec.num_samples // 3).astype(np.float32)
    out = spectrogram(wave, spec)
    assert out.shape == EXPECTED[name] == spec.shape
    assert out.dtype == np.float32 and np.isfinite(out).all()


def test_every_spec_is_covered():
    assert set(SPECS) == set(EXPECTED)


def test_short_clips_are_tiled_and_long_clips_cut():
    assert np.array_equal(fit_length(np.array([1.0, 2.0]), 5), [1, 2, 1, 2, 1])
    assert fit_length(np.arange(10.0), 4).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        fit_length(np.array([]), 4)


def test_unknown_spec_lists_the_valid_ones():
    with pytest.raises(ValueError, match="paper.*official"):
        get_spec("nope")


def test_file_spectrogram_resamples_a_wav(tmp_path):
    path = tmp_path / "a.wav"
    soundfile.write(path, np.sin(np.linspace(0, 2000, 44_100)).astype(np.float32) * 0.3, 44_100)
    assert file_spectrogram(path, get_spec("official")).shape == (257, 188)
    assert file_spectrogram(path, get_spec("paper")).shape == (257, 299)
