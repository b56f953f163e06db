"""The layout the packer writes and the kernels read: layer kinds, activation codes, and the columns
of ``meta`` (a header row of run settings, then one row per layer) and the header of ``params``.

No numba here: packing.py and processor.py write these tables, the kernel modules read them.
"""

KIND_LSTM = 0
KIND_GRU = 1
KIND_DENSE = 2
KIND_ACTIVATION = 3

ACT_LINEAR = 0
ACT_TANH = 1
ACT_RELU = 2
ACT_SIGMOID = 3
ACT_ELU = 4
ACT_SOFTMAX = 5
ACTIVATION_CODES = {"linear": ACT_LINEAR, "tanh": ACT_TANH, "relu": ACT_RELU,
                    "sigmoid": ACT_SIGMOID, "elu": ACT_ELU, "softmax": ACT_SOFTMAX}

LANES = 16  # floats per vector; every offset into params, the history and the work area is a multiple

# Columns of a layer row of ``meta`` (rows HEADER_ROWS…).
M_KIND = 0
M_IN = 1           # inputs (real, unpadded)
M_OUT = 2          # outputs: hidden units of a recurrent layer, units of a dense layer
M_ACT = 3          # activation code (dense and activation layers)
M_WEIGHTS = 4      # offset of the layer's weights in params
M_STATE = 5        # offset of the layer's state in one history slot (recurrent layers)
M_RESET_AFTER = 6  # GRU: 1 = reset gate after the recurrent kernel (PyTorch), 0 = before (Keras)
M_BLOCKS = 7       # recurrent: full blocks of LANES hidden units; dense: vectors per input row
M_HALF = 8         # LSTM: 1 if a half block (≤ LANES/2 more units, two gates per vector) ends it
META_COLUMNS = 14  # (the header row uses them all)

# The header row of ``meta``: the processor's run settings (written by the Processor).
HEADER_ROWS = 1
H_TAP_OFFSET = 0   # e: ŝ_n reads s_{n−e}, s_{n−e−1}, …
H_TAPS = 1         # number of taps
H_SKIP = 2         # 1 adds the (gained) input audio to the output
H_CONTROLS = 3     # control inputs after the audio
H_RAMP_DONE = 4    # controls ramp over this process() call: samples already done …
H_RAMP_LENGTH = 5  # … of this many (1 when the controls hold)
H_SLOTS = 6        # history slots (a power of two)
H_STATE = 7        # floats per history slot (all layers, padded)
H_WORK = 8         # floats of work area per channel
H_WIDTH = 9        # floats per activation vector in the work area
H_ACT = 10         # offset of the two activation vectors in a channel's work area (after the input)
H_SHAT = 11        # offset of ŝ in a channel's work area
H_SCRATCH = 12     # offset of the GRU (reset before) scratch in a channel's work area
H_INITIAL = 13     # offset in params of the initial state (one history slot), for resets in the kernel

# The header of ``params`` (floats), before the weights.
P_INPUT_GAIN = 0
P_OUTPUT_GAIN = 1
P_FEEDBACK = 2              # the recursive term of the state read (allpass); 0 for FIR reads
P_TAPS = LANES              # up to LANES taps
P_CONTROLS = 2 * LANES      # ctrl_from[n], then ctrl_to[n] at P_CONTROLS + n
MAX_TAPS = LANES

# Columns of ``pos``, the per-channel run state: (channels, CHANNEL_COLUMNS) int64.
POS_SLOT = 0              # the history slot sample n writes; advanced per sample
POS_BAD_INPUT = 1         # input samples that were not finite (after the input gain): processed as 0
POS_BAD_OUTPUT = 2        # output samples that were not finite: written as 0
POS_STATE_RESETS = 3      # times a non-finite network output restarted the channel from its initial state
CHANNEL_COLUMNS = 4
