"""Waveform -> log-magnitude spectrogram, with the paper's and the official code's settings as named specs.

The paper (Sec. 4.1) states 257x299 for CREMA-D: a 512-sample window with 353 samples of overlap
(hop 159) over 3 s at 16 kHz, framed without centring (1 + (48000 - 512) // 159 = 299 frames), and
257x1004 for 10 s (Kinetics-Sounds, VGGSound). The official code instead resamples CREMA-D to
22.05 kHz, tiles the clip to 3 s and uses hop 353 with centred frames (257x188); for KS/VGGSound it
uses 5 s at 16 kHz with n_fft 256 / hop 128 (129x626). All specs take ``log(|STFT| + 1e-7)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np

LOG_EPS = 1e-7


@dataclass(frozen=True)
class SpectrogramSpec:
    """How a waveform becomes a spectrogram."""

    name: str
    sample_rate: int
    seconds: float
    n_fft: int
    hop: int
    center: bool

    @property
    def num_samples(self) -> int:
        return int(round(self.sample_rate * self.seconds))

    @property
    def shape(self) -> tuple[int, int]:
        """(frequency bins, frames) of the spectrogram this spec produces."""
        n = self.num_samples
        frames = 1 + n // self.hop if self.center else 1 + (n - self.n_fft) // self.hop
        return (self.n_fft // 2 + 1, frames)


SPECS: dict[str, SpectrogramSpec] = {
    spec.name: spec
    for spec in (
        SpectrogramSpec("paper", 16_000, 3.0, 512, 159, center=False),  # 257x299, CREMA-D
        SpectrogramSpec("paper_10s", 16_000, 10.0, 512, 159, center=False),  # 257x1004, KS/VGGSound
        SpectrogramSpec("official", 22_050, 3.0, 512, 353, center=True),  # 257x188, CREMA-D
        SpectrogramSpec("official_5s", 16_000, 5.0, 256, 128, center=True),  # 129x626, KS/VGGSound
    )
}


def get_spec(name: str) -> SpectrogramSpec:
    """The spec called ``name``; the error lists the valid names."""
    if name not in SPECS:
        raise ValueError(f"unknown spectrogram spec {name!r}; valid specs: {', '.join(SPECS)}")
    return SPECS[name]


def fit_length(wave: np.ndarray, num_samples: int) -> np.ndarray:
    """Tile a short clip (as the official code does) or cut a long one to exactly ``num_samples``."""
    if wave.size == 0:
        raise ValueError("empty waveform")
    if wave.size < num_samples:
        wave = np.tile(wave, -(-num_samples // wave.size))
    return wave[:num_samples]


def spectrogram(wave: np.ndarray, spec: SpectrogramSpec) -> np.ndarray:
    """``log(|STFT| + 1e-7)`` of a mono waveform already at ``spec.sample_rate``; float32 (F, T)."""
    wave = np.clip(fit_length(np.asarray(wave, dtype=np.float32), spec.num_samples), -1.0, 1.0)
    stft = librosa.stft(wave, n_fft=spec.n_fft, hop_length=spec.hop, center=spec.center)
    return np.log(np.abs(stft) + LOG_EPS).astype(np.float32)


def resample(wave: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """``wave`` at ``target_rate`` (float32)."""
    wave = np.asarray(wave, dtype=np.float32)
    if source_rate == target_rate:
        return wave
    return librosa.resample(wave, orig_sr=source_rate, target_sr=target_rate).astype(np.float32)


def load_wave(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 waveform of an audio file at ``sample_rate``."""
    import soundfile

    wave, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return resample(wave.mean(axis=1), rate, sample_rate)


def file_spectrogram(path: Path, spec: SpectrogramSpec) -> np.ndarray:
    """The spectrogram of an audio file under ``spec``."""
    return spectrogram(load_wave(path, spec.sample_rate), spec)
