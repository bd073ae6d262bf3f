"""A pretrained speech embedding as the keyword spotter's front end (`--front-end speech-embedding`).

Four training voices are too few to teach a model what stays the same across voices; a network
trained on a great many voices already knows. Google's `speech_embedding` (Apache-2.0; the ONNX
conversion that openWakeWord distributes is read here) maps 76 log-mel frames (0.76 s) to 96
numbers, once every 8 frames (80 ms). It is kept frozen; only the recurrent stack on top learns.

Its log-mel frames are 25 ms Hann windows, 10 ms apart, 32 mel bands between 60 Hz and 3.8 kHz
(16 kHz audio, a 512-point DFT). Everything it uses lies below 4 kHz, so an 8 kHz front end
computes the same frames: a 200-sample window in a 256-point DFT has the same 31.25 Hz bins, and
the 16 kHz window's sum is twice ours (power x4). Audio is scaled as 16-bit PCM, as it expects.

Streaming: the model's hop is 8 frames (640 samples), one embedding per hop. Between calls it
keeps the last 176 audio samples (the DFT's overlap, state `context`) and, for each of the 11
convolutions that look 3 steps along time, the last 2 steps of its input (state `cache`, 9472
numbers). A call then computes each layer only at its new steps (8 log-mel frames per hop), not
over a whole 76-frame window (9.5 times the steps for an 80 ms call), and the result does not
depend on how the audio was cut into calls. The zero state means a quiet room heard before the
stream began: the cache stores each layer's input less its mean over white noise at
`QUIET_ROOM_DBFS` (`rest`), so that zeros are that state. A word at the very start of a stream
(a trimmed recording) is then heard as after a pause, not after frames no microphone gives.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from edge_rnn.config import (EMBEDDING_CACHE, EMBEDDING_HOP as HOP, EMBEDDING_LAYERS as _LAYERS,
                             EMBEDDING_MEL_HOP as MEL_HOP, EMBEDDING_MELS as N_MELS, EMBEDDING_N_FFT as N_FFT,
                             EMBEDDING_SIZE as EMBEDDING, embedding_time_convs)
from .features import dft_basis, power_frames, triangles
from edge_rnn.runtime.errors import UserError

WIN = 200  # samples in the Hann window (25 ms), centred in each 256-point DFT frame
PCM_POWER = 4.0 * 32767.0 ** 2  # 16-bit scale, and the 16 kHz window's sum twice ours (power x4)
# The quietest mel power let through (16-bit units). Digital silence (exact zeros: a padded file,
# a muted input) would otherwise give log-mels of -8, and at a floor far under any recorded noise
# it still gives frames unlike anything in training, after which a fresh spotter misses many of
# the words that follow. This floor is the level of white noise at -105 dBFS (log-mel 1.5): it
# touches only the very bottom of 16-bit audio (its quantization noise alone, at -101 dBFS, reads
# under it in 14% of its values; noise at -90 dBFS practically never), never a room's sound.
POWER_FLOOR = 10 ** -0.5
# A faint fixed noise added to the audio (white, dBFS RMS; one draw of a hop's 640 samples,
# repeated every hop, so it needs no state): digital silence then reads as the quietest
# microphone, with the frame-to-frame texture of noise. A stream with exact zeros between its
# words otherwise loses about a tenth of them; this adds the level of 16-bit audio's own
# quantization noise, 15 dB under the quietest background the spotters are trained with.
DITHER_DBFS = -90.0
# The room a fresh stream has been hearing (white noise, dBFS RMS): the zero state of the cache.
QUIET_ROOM_DBFS = -60.0
QUIET_ROOM_SECONDS = 8.0

def default_weights() -> Path:
    """The embedding's ONNX file shipped with the package (see NOTICE beside it)."""
    return Path(__file__).parents[1] / "bundled" / "speech_embedding" / "embedding_model.onnx"


class SpeechEmbedding(nn.Module):
    """(n, 76 + 8 * (k - 1), 32) log-mel frames -> (n, k, 96): one embedding per 76-frame window,
    the windows 8 frames apart. Convolutions with LeakyReLU(0.2) floored at -0.4, and max-pools;
    the last convolution has no activation.

    The network is convolutional along time with no padding there, and its pools halve time three
    times (8 frames in all), so run over a long stretch of frames it yields exactly the embedding
    of every window that starts a multiple of 8 frames in: each frame is processed once, not for
    each of the 9-10 windows it falls in.
    """

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList()
        channels = 1
        for i, layer in enumerate(_LAYERS):
            if isinstance(layer, tuple):
                out, kernel, pad = layer
                last = i == len(_LAYERS) - 1
                self.convs.append(nn.Conv2d(channels, out, kernel, padding=(0, pad), bias=not last))
                channels = out
        self.cached = embedding_time_convs()  # (channels, mels) into each convolution spanning time
        self.cache_size = EMBEDDING_CACHE
        # each cached input's value (per channel and mel, the same at every step) when the stream
        # is preceded by silent frames (see settle())
        self.register_buffer("rest", torch.zeros(sum(c * m for c, m in self.cached)), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _keys: module.settle())
        self.settle()

    def _layers(self, x: torch.Tensor, before_time_conv=None) -> torch.Tensor:
        """Run the network on (n, 1, time, mels); `before_time_conv(i, x)` may replace the input of
        the i-th convolution that spans time."""
        convs, k = iter(self.convs), 0
        for i, layer in enumerate(_LAYERS):
            if layer == "pool22":
                x = F.max_pool2d(x, (2, 2))
            elif layer == "pool12":
                x = F.max_pool2d(x, (1, 2))
            else:
                conv = next(convs)
                if conv.kernel_size[0] > 1 and before_time_conv is not None:
                    x = before_time_conv(k, x)
                    k += 1
                x = conv(x)
                if i < len(_LAYERS) - 1:
                    x = torch.clamp_min(F.leaky_relu(x, 0.2), -0.4)
        return x.squeeze(3).transpose(1, 2)  # (n, 96, k, 1) -> (n, k, 96)

    def forward(self, frames: torch.Tensor, cache: torch.Tensor | None = None):
        """Without `cache`: the (n, k, 96) embeddings of the windows in `frames` (see the class).
        With it: `stream(frames, cache)`."""
        if cache is None:
            return self._layers(frames.unsqueeze(1))  # (n, 1, time, mels)
        return self.stream(frames, cache)

    def stream(self, frames: torch.Tensor, cache: torch.Tensor):
        """(n, 8 * k, 32) new log-mel frames, (n, cache_size) state -> (n, k, 96) embeddings and
        the new state: the embedding of each 76-frame window that ends at one of these hops."""
        n = frames.size(0)
        past = torch.split(cache, [2 * c * m for c, m in self.cached], dim=1)
        rests = torch.split(self.rest, [c * m for c, m in self.cached])
        kept = []

        def join(k: int, x: torch.Tensor) -> torch.Tensor:
            c, m = self.cached[k]
            rest = rests[k].reshape(1, c, 1, m)
            x = torch.cat([past[k].reshape(n, c, 2, m) + rest, x], dim=2)  # the last 2 steps, then the new ones
            kept.append((x[:, :, x.size(2) - 2 :] - rest).reshape(n, 2 * c * m))
            return x

        out = self._layers(frames.unsqueeze(1), join)
        return out, torch.cat(kept, dim=1)

    @torch.no_grad()
    def settle(self) -> None:
        """Set `rest` from the weights: each cached input's mean over the steps of a quiet room
        (`quiet_room_logmel()`), so that the zero state is a stream that has been hearing it."""
        rests = []

        def note(_k: int, x: torch.Tensor) -> torch.Tensor:
            rests.append(x[0].mean(dim=1).reshape(-1))  # (channels, mels): averaged over time
            return x

        frames = quiet_room_logmel().to(dtype=self.rest.dtype, device=self.rest.device)
        self._layers(frames.unsqueeze(1), note)
        self.rest.copy_(torch.cat(rests))

    def is_pretrained(self) -> bool:
        """Whether every weight is still the shipped pretrained one (not tuned by training)."""
        original = SpeechEmbedding()
        original.load_onnx(default_weights())
        mine = dict(self.named_parameters())
        return all(torch.equal(w, mine[name].detach().cpu()) for name, w in original.named_parameters())

    def load_onnx(self, path: Path) -> None:
        """Copy the weights of openWakeWord's `embedding_model.onnx` (its Conv nodes in order)."""
        import onnx
        from onnx import numpy_helper

        path = Path(path)
        if not path.is_file():
            raise UserError(f"speech embedding weights not found: {path}")
        graph = onnx.load(str(path)).graph
        inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        convs = [n for n in graph.node if n.op_type == "Conv"]
        if len(convs) != len(self.convs):
            raise UserError(f"{path} is not the speech embedding this front end expects "
                            f"({len(convs)} convolutions, not {len(self.convs)})")
        for node, conv in zip(convs, self.convs):
            weight = inits[node.input[1]]
            if tuple(weight.shape) != tuple(conv.weight.shape):
                raise UserError(f"{path}: convolution weights {weight.shape} where {tuple(conv.weight.shape)} "
                                "were expected")
            conv.weight.data.copy_(torch.from_numpy(weight.copy()))
            if conv.bias is not None:
                conv.bias.data.copy_(torch.from_numpy(inits[node.input[2]].copy()))
        self.settle()


def mel_matrix() -> torch.Tensor:
    """(129, 32) mel filters on the bins of a 256-point DFT at 8 kHz (the frequencies of the first
    129 bins of the embedding's 512-point DFT at 16 kHz): triangles between 60 Hz and 3.8 kHz
    spaced on the Slaney mel scale (linear to 1 kHz, logarithmic above), each of unit area."""
    step, log_step = 200.0 / 3, math.log(6.4) / 27.0
    mel = lambda f: f / step if f < 1000 else 15.0 + math.log(f / 1000.0) / log_step  # noqa: E731
    hz = lambda m: m * step if m < 15 else 1000.0 * math.exp(log_step * (m - 15.0))  # noqa: E731
    edges = torch.tensor([hz(m) for m in np.linspace(mel(60.0), mel(3800.0), N_MELS + 2)], dtype=torch.float64)
    freqs = torch.arange(N_FFT // 2 + 1, dtype=torch.float64) * 8000.0 / N_FFT
    return (triangles(freqs, edges) * (2.0 / (edges[2:] - edges[:-2]))).float()


class EmbeddingFrontEnd(nn.Module):
    """(batch, samples) audio, whole hops of 640 samples -> (batch, samples / 80, 32) log-mel
    frames (log10 of the mel power, + 2, as the embedding expects them), one per 80 new samples;
    the audio first gets the dither (`DITHER_DBFS`).

    State: `context` (batch, 176) audio samples, the DFT's overlap. The embedding itself is a
    separate module (`KeywordNet.embedding`, which carries its own state), so that export
    stores its weights as int8 like the recurrent ones.
    """

    context_size = N_FFT - MEL_HOP

    def __init__(self, features: int = EMBEDDING):
        super().__init__()
        dither = np.random.default_rng(0).standard_normal(HOP) * 10 ** (DITHER_DBFS / 20)
        self.register_buffer("dither", torch.from_numpy(dither.astype(np.float32)), persistent=False)
        window = torch.zeros(N_FFT, dtype=torch.float64)
        start = (N_FFT - WIN) // 2  # centred, as the 16 kHz window sits in its 512-point frame
        window[start : start + WIN] = torch.hann_window(WIN, periodic=True, dtype=torch.float64)
        self.register_buffer("basis", dft_basis(window))  # (2 * 129, 1, 256)
        self.register_buffer("mel", mel_matrix() * PCM_POWER)
        # of the features after the front end (the embedding, and any levels), set by the trainer
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))

    def forward(self, audio: torch.Tensor, context: torch.Tensor):
        batch, samples = audio.shape  # samples: whole hops, each gets the same dither
        audio = (audio.reshape(batch, -1, HOP) + self.dither).reshape(batch, samples)
        x = torch.cat([context, audio], dim=1)  # (batch, 176 + samples)
        new_context = x[:, x.size(1) - self.context_size :]
        power = power_frames(x, self.basis, MEL_HOP)  # (batch, 8 * hops, bins)
        logmel = torch.log10(torch.clamp(torch.matmul(power, self.mel), min=POWER_FLOOR)) + 2.0
        return logmel, new_context


def quiet_room_audio(samples: int) -> np.ndarray:
    """`samples` of white noise at `QUIET_ROOM_DBFS` RMS, float32: the first samples of one fixed
    draw, so that any length is the start of the same quiet room."""
    return (np.random.default_rng(0).standard_normal(samples) * 10 ** (QUIET_ROOM_DBFS / 20)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def quiet_room_logmel() -> torch.Tensor:
    """(1, frames, 32) log-mel frames of `QUIET_ROOM_SECONDS` of white noise at `QUIET_ROOM_DBFS`
    (a fixed draw), as the front end computes them: what a fresh stream is taken to have heard."""
    samples = int(QUIET_ROOM_SECONDS * 8000) // HOP * HOP  # whole hops at 8 kHz, as the front end takes them
    front = EmbeddingFrontEnd()
    with torch.no_grad():
        audio = torch.from_numpy(quiet_room_audio(samples))[None]
        logmel, _ = front(audio, torch.zeros(1, front.context_size))
    return logmel
