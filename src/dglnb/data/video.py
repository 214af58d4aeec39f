"""Decode frames and audio from video files with PyAV (done once, at prep time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def frames_per_second(path: Path, fps: float = 1.0, size: int = 224) -> np.ndarray:
    """The first frame of every 1/fps seconds, resized to size x size RGB; uint8 (T, H, W, 3).

    Raises ValueError for a video without a decodable frame."""
    import av

    kept: list[np.ndarray] = []
    last_slot = -1
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            time = (
                frame.time if frame.time is not None else index / float(stream.average_rate or 25)
            )
            slot = int(np.floor(time * fps + 1e-6))
            if slot > last_slot:
                kept.append(frame.to_ndarray(format="rgb24", width=size, height=size))
                last_slot = slot
    if not kept:
        raise ValueError("no decodable video frame (empty or truncated video)")
    return np.stack(kept)


def evenly_spaced(frames: np.ndarray, count: int) -> np.ndarray:
    """``count`` frames spread evenly over ``frames`` (first and last included)."""
    if len(frames) < count:
        raise ValueError(f"only {len(frames)} frame(s) at 1 fps, {count} needed")
    return frames[np.linspace(0, len(frames) - 1, count).round().astype(int)]


def audio_track(path: Path, sample_rate: int) -> np.ndarray:
    """The audio stream of a video file as a mono float32 waveform at ``sample_rate``."""
    import av

    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for frame in container.decode(container.streams.audio[0]):
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    if not chunks or sum(c.size for c in chunks) == 0:
        raise ValueError("no decodable audio")
    return np.concatenate(chunks).astype(np.float32)
