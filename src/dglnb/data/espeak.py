"""Speech synthesis with the espeak-ng library shipped by the ``espeakng-loader`` wheel (ctypes).

espeak-ng keeps internal state between calls in one process, so the same request can give
different samples the second time; a fresh process replays the same sequence exactly. Hence
:func:`synthesize` runs the whole ordered list of requests in one fresh subprocess
(this file run as a script), which makes the output reproducible byte for byte.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2
PARAM_RATE, PARAM_PITCH = 1, 3
CHARS_AUTO, POS_CHARACTER = 0, 1


@dataclass(frozen=True)
class Utterance:
    """One synthesis request: text, voice (``language+variant``), pitch 0-99, words per minute."""

    text: str
    voice: str
    pitch: int
    rate: int


def _speak_all(utterances: list[Utterance]) -> tuple[list[np.ndarray], int]:
    """Synthesise in this process (call only from a fresh one); int16 waveforms and the sample rate."""
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    data = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, ctypes.c_char_p(data), 0)
    if rate <= 0:
        raise RuntimeError(f"espeak-ng failed to initialise with data {data.decode()}")
    chunks: list[np.ndarray] = []
    callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )

    def collect(wav, count, events):  # noqa: ARG001 - espeak's callback signature
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    callback = callback_type(collect)
    lib.espeak_SetSynthCallback(callback)
    waves = []
    for u in utterances:
        if lib.espeak_SetVoiceByName(u.voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {u.voice!r}")
        lib.espeak_SetParameter(PARAM_PITCH, u.pitch, 0)
        lib.espeak_SetParameter(PARAM_RATE, u.rate, 0)
        text = u.text.encode()
        lib.espeak_ng_SetRandSeed(
            ctypes.c_long(0)
        )  # breathy variants add noise seeded from the clock
        chunks.clear()
        lib.espeak_Synth(text, len(text) + 1, 0, POS_CHARACTER, 0, CHARS_AUTO, None, None)
        lib.espeak_Synchronize()
        waves.append(np.concatenate(chunks) if chunks else np.zeros(0, np.int16))
    return waves, rate


def synthesize(utterances: list[Utterance]) -> tuple[list[np.ndarray], int]:
    """int16 waveforms of ``utterances`` (in order) and their sample rate, from one fresh subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        request, result = Path(tmp) / "request.json", Path(tmp) / "result.npz"
        request.write_text(json.dumps([asdict(u) for u in utterances]))
        # -P: do not put this folder on sys.path (its module names must not shadow anything)
        subprocess.run([sys.executable, "-P", __file__, str(request), str(result)], check=True)
        with np.load(result) as npz:
            flat, ends, rate = npz["samples"], npz["ends"], int(npz["rate"])
    return np.split(flat, ends[:-1]), rate


def main(argv: list[str]) -> None:
    """Subprocess entry: read requests (json), write samples/ends/rate (npz)."""
    request, result = argv
    waves, rate = _speak_all([Utterance(**u) for u in json.loads(Path(request).read_text())])
    np.savez(
        result, samples=np.concatenate(waves), ends=np.cumsum([w.size for w in waves]), rate=rate
    )


if __name__ == "__main__":
    main(sys.argv[1:])
