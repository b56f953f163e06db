"""Streaming resampling around a model: ``interpolation="resample"`` and ``oversample``.

The model runs at another rate than the stream, inside a pair of polyphase FIR resamplers: the
way in takes the stream (the outer rate) to the model's rate (the inner rate), the model runs
there at R = 1 (resample: exactly as trained) or at an integer multiple of the stream's rate
(oversample), and the way back returns its output to the stream's rate. Modules: ``design``
(numpy: the exact rational ratio, the filters, the polyphase tables, the latency), ``layout``
(the int64 table of settings and counters), ``kernels`` (nopython: the two stages around
engine.kernels.process_block, one call per block), ``pair`` (the arrays, allocated at prepare,
cleared at reset).

Design, and why
---------------
Exact rational polyphase FIR, Kaiser-windowed sinc, linear phase. F_outer / F_inner = P/Q in
lowest terms (44.1 ↔ 48 kHz: 147/160), both stages on the one high rate P·F_inner = Q·F_outer,
so every output sample's filter phase is an exact integer and the stream never drifts; any pair
of rates whose ratio has P, Q ≤ MAX_PHASES (4096) runs, and others are refused with one line
(an approximate ratio would resample to a slightly wrong rate, with no R = 1 to claim).

- Latency exact and a whole number of stream samples, L: the two delays are chosen to add up to
  L·Q high-rate samples, with the way in's a whole number D of model samples, so (i) the model's
  samples fall on the instants a model-rate recording of the same signal has (it reproduces the
  model's own aliasing instead of smearing it, which the protocol measures), (ii) with a model
  that passes its input through, the impulse response is exactly symmetric about L (tested), and
  (iii) engine-eval compensates L sample for sample. After a reset the model starts where the
  stream starts (the first D model-rate samples, only the filter's pre-ringing of times before
  the first input, are not run through it).
- 22 zero crossings of the lower rate each way: 1.00 ms round trip (48 samples at 48 kHz from a
  44.1 kHz model; 44 at 44.1 kHz from a 48 kHz model), inside the acceptance's 1.5 ms. The
  sweep of benchmarks/resample_mode.py (section 6; the LSTM-40 set at 48 kHz, the published
  protocol): 11 crossings (0.5 ms) 78.4 dB mean SNR, 22: 79.8 dB, 33 (1.5 ms): 80.8 dB.
- Kaiser β = 8 (≈ 81 dB stopband, ripple ≈ 1e-4): β 6 gave 73.0 dB, β 10 80.5 dB (for a 25 %
  wider transition band).
- The transition band centred on the lower rate's Nyquist frequency (−6 dB there, as a
  half-band filter and the half-band IIR designs of Carson, Välimäki, Wright & Bilbao, TASLP
  2025): the protocol scores the band up to that Nyquist frequency, where a distorting model's
  output has real energy, so a stopband starting at it cost 9 dB (70.7 dB mean). Folding is
  confined to the transition band itself (±2.6 kHz about 22.05 kHz at 44.1 ↔ 48 kHz), where a
  guitar DI has −90 dB of its energy (the demo clip above 19.5 kHz).
- Oversampling (×2, ×4) is for aliasing, so its way back stops everything above the stream's
  Nyquist frequency before decimating (stopband from F_outer/2, 33 crossings: 1.15 ms at
  48 kHz): on the hardest-clipping trained model (transistor_fuzz) ×2 lowers the ASR from −27 to
  −73 dB, ×4 to −112 dB.
- Why not half-band IIR + FIR (the TASLP paper's best): its passband phase is not linear, so the
  latency is only approximate and the waveform SNR of the protocol pays for the phase error; the
  FIR pair costs little here: resample at 48 kHz ran at 1.03–1.15 × the model's own cost per
  sample for an LSTM-40 (section 4: the model runs 0.92 samples per stream sample, the two
  filters 2 × 48 taps per sample in 16-lane vectors).

Figures (benchmarks/reports/resample_mode.md): on the LSTM-40 set at 48 kHz resample scores
79.8 dB mean SNR against cubic's 58.1 dB (+21.8 dB), worst model 61.7 against 46.0; as 48 kHz
models at 44.1 kHz it beats the best stable state read on all 12 models (by 2.2 to 33.7 dB).

Real time: after prepare nothing allocates; the block function compiles inside a numba cfunc
without numba's runtime (tests/test_resampler.py), as the live callback would call it; any
block sizes give the one long block's output, bit for bit.
"""

from .design import MAX_PHASES, Plan, plan, rate_fraction

__all__ = ["MAX_PHASES", "Plan", "plan", "rate_fraction"]
