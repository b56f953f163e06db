"""The live chain as a native JACK client: the compiled callback registered with libjack itself.

On a JACK server (JACK2, or PipeWire's JACK) the engine can skip PortAudio: libjack calls
``process`` below, a numba @cfunc with JACK's ``JackProcessCallback`` signature
(``int process(jack_nframes_t nframes, void *arg)``), on the client's real-time thread. It gathers
the port buffers into interleaved scratch arrays and runs the very code PortAudio's callback runs
(engine.live.callback: the chain, its counters, meters and timing ring), then spreads the output
back to the ports. Like that callback it is compiled without numba's runtime, cannot allocate and
never enters the interpreter.

Why not PortAudio's JACK host API: measured in one JACK dummy server beside jackd2's C client
``jack_thru`` (benchmarks/live_xruns.py: 2 CPU-bound processes, period 64, the registration
order alternated), a PortAudio stream whose callback is an empty compiled function was late in
the server's cycle 11–130 times per 45 s where jack_thru was late 0–45 times (3–10× as often, in
every run), while this client, with the same compiled code, was late as often as jack_thru
(63 against 62 over three runs). PortAudio stays the path to every other audio API.

JACK's xruns reach ``process`` as PortAudio's would: libjack's xrun callback (``xrun`` below, on
libjack's notification thread) counts them in the client's header, and ``process`` turns a new
count into the input-overflow and output-underflow status flags the shared callback counts.
``jack_port_get_buffer`` is resolved by name when the compiled code is linked, once libjack is
loaded into the process's global symbol table (``load_libjack``), so the code stays cacheable.
"""

import ctypes
import ctypes.util
import re
import shutil

import numpy as np
from numba import cfunc, types

from ..errors import DeviceError
from .callback import CALLBACK_OPTIONS, _as_voidptr, address, callback_body, view
from .quiet import quiet_stderr
from .shared import INPUT_OVERFLOW, OUTPUT_UNDERFLOW

JACK_INSTALL_HINT = "install the Debian package jackd2 (or PipeWire's JACK) and start a JACK server"

# jack_options_t and port flags (jack/types.h)
JACK_NO_START_SERVER = 0x01
JACK_USE_EXACT_NAME = 0x02
JACK_SERVER_NAME = 0x04
PORT_IS_INPUT = 0x1
PORT_IS_OUTPUT = 0x2
PORT_IS_PHYSICAL = 0x4
AUDIO_TYPE = b"32 bit float mono audio"

#: Frames per cycle the scratch buffers hold: JACK's largest period. A larger cycle is played as silence and counted.
MAX_CYCLE_FRAMES = 8192

# The client header: int64 fields the cfuncs reach through their ``arg``.
J_CHAIN = 0         # address of the chain's SharedState header (the shared callback's userData)
J_IN_PORTS = 1      # address of int64[J_IN_COUNT]: jack_port_t* of our input ports
J_IN_COUNT = 2
J_OUT_PORTS = 3     # address of int64[J_OUT_COUNT]: jack_port_t* of our output ports
J_OUT_COUNT = 4
J_IN_SCRATCH = 5    # address of float32[MAX_CYCLE_FRAMES, J_IN_COUNT]: the input, interleaved
J_OUT_SCRATCH = 6   # address of float32[MAX_CYCLE_FRAMES, J_OUT_COUNT]
J_XRUNS = 7         # xruns libjack reported (written by ``xrun``)
J_XRUNS_SEEN = 8    # of those, how many ``process`` has turned into status flags
J_OVERSIZED = 9     # cycles longer than MAX_CYCLE_FRAMES, played as silence
J_SHUTDOWN = 10     # set by ``shutdown`` when the server goes away
J_HEADER_SIZE = 11

_lib = None
_jack_port_get_buffer = types.ExternalFunction("jack_port_get_buffer", types.voidptr(types.voidptr, types.uint32))


def load_libjack():
    """Load libjack into the process's global symbols (once) and declare the functions used from Python.

    Returns
    -------
    ctypes.CDLL

    Raises
    ------
    DeviceError
        If libjack is not installed.
    """
    global _lib
    if _lib is not None:
        return _lib
    import llvmlite.binding

    name = ctypes.util.find_library("jack") or "libjack.so.0"
    try:
        lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        llvmlite.binding.load_library_permanently(name)  # so the compiled code links jack_port_get_buffer
    except (OSError, RuntimeError) as exc:
        raise DeviceError(f"cannot load libjack ({exc}); {JACK_INSTALL_HINT}") from None
    p, i, u32, ul = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_ulong
    declarations = {
        "jack_client_open": (p, None),  # variadic: arguments given explicitly as ctypes objects
        "jack_client_close": (i, [p]),
        "jack_get_client_name": (ctypes.c_char_p, [p]),
        "jack_port_register": (p, [p, ctypes.c_char_p, ctypes.c_char_p, ul, ul]),
        "jack_port_name": (ctypes.c_char_p, [p]),
        "jack_set_process_callback": (i, [p, p, p]),
        "jack_set_xrun_callback": (i, [p, p, p]),
        "jack_on_shutdown": (None, [p, p, p]),
        "jack_activate": (i, [p]),
        "jack_deactivate": (i, [p]),
        "jack_connect": (i, [p, ctypes.c_char_p, ctypes.c_char_p]),
        "jack_get_ports": (ctypes.POINTER(ctypes.c_char_p), [p, ctypes.c_char_p, ctypes.c_char_p, ul]),
        "jack_free": (None, [p]),
        "jack_get_sample_rate": (u32, [p]),
        "jack_get_buffer_size": (u32, [p]),
    }
    for function, (restype, argtypes) in declarations.items():
        handle = getattr(lib, function)
        handle.restype = restype
        if argtypes is not None:
            handle.argtypes = argtypes
    _lib = lib
    return lib


# ---- the compiled callbacks -----------------------------------------------------------------------

def _process(nframes, arg):
    j = view(arg, J_HEADER_SIZE, np.int64)
    frames = np.int64(nframes)
    in_ports = view(j[J_IN_PORTS], j[J_IN_COUNT], np.int64)
    out_ports = view(j[J_OUT_PORTS], j[J_OUT_COUNT], np.int64)
    if frames > MAX_CYCLE_FRAMES:
        j[J_OVERSIZED] += 1
        for c in range(j[J_OUT_COUNT]):
            out = view(_jack_port_get_buffer(_as_voidptr(out_ports[c]), nframes), frames, np.float32)
            for i in range(frames):
                out[i] = 0.0
        return 0
    ins = view(j[J_IN_SCRATCH], (frames, j[J_IN_COUNT]), np.float32)
    outs = view(j[J_OUT_SCRATCH], (frames, j[J_OUT_COUNT]), np.float32)
    for c in range(j[J_IN_COUNT]):
        source = view(_jack_port_get_buffer(_as_voidptr(in_ports[c]), nframes), frames, np.float32)
        for i in range(frames):
            ins[i, c] = source[i]
    status = np.uint64(0)
    reported = j[J_XRUNS]
    if reported != j[J_XRUNS_SEEN]:  # an xrun since the last cycle: flag it as PortAudio would
        j[J_XRUNS_SEEN] = reported
        status = np.uint64(INPUT_OVERFLOW | OUTPUT_UNDERFLOW)
    callback_body(_as_voidptr(j[J_IN_SCRATCH]), _as_voidptr(j[J_OUT_SCRATCH]), np.uint64(frames),
                  _as_voidptr(0), status, _as_voidptr(j[J_CHAIN]))
    for c in range(j[J_OUT_COUNT]):
        target = view(_jack_port_get_buffer(_as_voidptr(out_ports[c]), nframes), frames, np.float32)
        for i in range(frames):
            target[i] = outs[i, c]
    return 0


def _xrun(arg):
    j = view(arg, J_HEADER_SIZE, np.int64)
    j[J_XRUNS] += 1
    return 0


def _shutdown(arg):
    j = view(arg, J_HEADER_SIZE, np.int64)
    j[J_SHUTDOWN] = 1


_compiled = {}


def compiled():
    """The three cfuncs (process, xrun, shutdown), compiled or loaded from numba's cache on first use."""
    if not _compiled:
        load_libjack()
        _compiled["process"] = cfunc(types.int32(types.uint32, types.voidptr), **CALLBACK_OPTIONS)(_process)
        _compiled["xrun"] = cfunc(types.int32(types.voidptr), **CALLBACK_OPTIONS)(_xrun)
        _compiled["shutdown"] = cfunc(types.void(types.voidptr), **CALLBACK_OPTIONS)(_shutdown)
    return _compiled


# ---- the client ------------------------------------------------------------------------------------

def _ports(lib, client, pattern, flags):
    found = lib.jack_get_ports(client, pattern, AUDIO_TYPE, flags)
    if not found:
        return []
    names = []
    k = 0
    while found[k] is not None:
        names.append(found[k].decode(errors="replace"))
        k += 1
    lib.jack_free(ctypes.cast(found, ctypes.c_void_p))
    return names


class JackStream:
    """A native JACK client running the chain: what LiveSession uses in place of a PortAudio stream.

    Made in two steps, because the chain is prepared at the server's rate, which is known once
    the client is open: ``JackStream(...)`` opens the client and registers its ports (and
    ``sample_rate`` / ``period`` tell the server's), ``attach(chain)`` hands libjack the compiled
    callbacks with the chain, ``start()`` activates and connects.

    Parameters
    ----------
    in_channels, out_channels : int
        Ports to register (in_0.., out_0..).
    input_device, output_device : str or None
        The JACK client whose ports ours connect to (None: the physical ports, "system" on JACK2).
    input_connect : sequence of int
        For each of our input ports, the (0-based) port of ``input_device`` it is connected to.
    output_connect : sequence of int
        Likewise for our output ports (``output_channels`` − 1).
    client_name : str
        JACK gives a taken name a suffix ("engine-01") unless ``exact_name``.
    exact_name : bool
        Fail rather than take another name.
    server : str, optional
        The JACK server's name (default: $JACK_DEFAULT_SERVER or "default").

    Raises
    ------
    DeviceError
        If no JACK server answers, the devices have no such ports, or the server refuses a request.
    """

    def __init__(self, in_channels, out_channels, input_device=None, output_device=None,
                 input_connect=(0,), output_connect=(0, 1), client_name="engine", exact_name=False, server=None):
        lib = load_libjack()
        compiled()  # before the client exists: a cold numba cache compiles here
        status = ctypes.c_int(0)
        options = JACK_NO_START_SERVER | (JACK_SERVER_NAME if server else 0) | (JACK_USE_EXACT_NAME if exact_name else 0)
        extra = (ctypes.c_char_p(server.encode()),) if server else ()
        with quiet_stderr():  # libjack prints every failed connection attempt; the error below says it once
            client = lib.jack_client_open(ctypes.c_char_p(client_name.encode()), ctypes.c_int(options),
                                          ctypes.byref(status), *extra)
        if not client:
            where = f"JACK server {server!r}" if server else "a JACK server"
            if exact_name and status.value & 0x10:  # JackNameNotUnique
                raise DeviceError(f"{where} already has a client named {client_name!r}")
            hint = ("start one (e.g. jackd -d alsa -r 48000 -p 128), pick another audio_api, or run engine-live "
                    "--virtual" if shutil.which("jackd") else JACK_INSTALL_HINT)
            raise DeviceError(f"cannot connect to {where} (status 0x{status.value:x}): is it running? {hint}")
        self._lib, self._client, self.chain = lib, client, None
        self._active = False
        self.closed = False
        try:
            self.name = lib.jack_get_client_name(client).decode(errors="replace")
            self.sample_rate = int(lib.jack_get_sample_rate(client))
            self.period = int(lib.jack_get_buffer_size(client))
            self._header = np.zeros(J_HEADER_SIZE, np.int64)
            self._in_ports = np.zeros(in_channels, np.int64)
            self._out_ports = np.zeros(out_channels, np.int64)
            self._in_scratch = np.zeros((MAX_CYCLE_FRAMES, in_channels), np.float32)
            self._out_scratch = np.zeros((MAX_CYCLE_FRAMES, out_channels), np.float32)
            for k in range(in_channels):
                self._in_ports[k] = self._register(f"in_{k}", PORT_IS_INPUT)
            for k in range(out_channels):
                self._out_ports[k] = self._register(f"out_{k}", PORT_IS_OUTPUT)
            h = self._header
            h[J_IN_PORTS], h[J_IN_COUNT] = self._in_ports.ctypes.data, in_channels
            h[J_OUT_PORTS], h[J_OUT_COUNT] = self._out_ports.ctypes.data, out_channels
            h[J_IN_SCRATCH], h[J_OUT_SCRATCH] = self._in_scratch.ctypes.data, self._out_scratch.ctypes.data
            self._connections = self._plan(input_device, output_device, input_connect, output_connect)
        except BaseException:
            lib.jack_client_close(client)
            self._client = None
            self.closed = True
            raise

    def attach(self, chain):
        """Give libjack the compiled callbacks, running ``chain`` (prepared at ``sample_rate``).

        Raises
        ------
        DeviceError
            If the client is active already, or the server refuses a callback.
        """
        if self._active or self.chain is not None:
            raise DeviceError(f"JACK client {self.name!r} already runs a chain")
        functions = compiled()
        self.chain = chain  # its memory is what the callback reads: held as long as the client is
        self._header[J_CHAIN] = chain.userdata
        arg = ctypes.c_void_p(self._header.ctypes.data)
        for setter, function in (("jack_set_process_callback", "process"), ("jack_set_xrun_callback", "xrun")):
            if getattr(self._lib, setter)(self._client, ctypes.c_void_p(functions[function].address), arg) != 0:
                raise DeviceError(f"the JACK server refused the engine's {function} callback")
        self._lib.jack_on_shutdown(self._client, ctypes.c_void_p(functions["shutdown"].address), arg)

    def _register(self, name, flags):
        port = self._lib.jack_port_register(self._client, name.encode(), AUDIO_TYPE, flags, 0)
        if not port:
            raise DeviceError(f"the JACK server refused to register port {self.name}:{name}")
        return port

    def _plan(self, input_device, output_device, input_connect, output_connect):
        """[(source port name, destination port name)]: what start() connects."""
        plan = []
        for ours, device, wanted, direction in ((self._in_ports, input_device, input_connect, PORT_IS_OUTPUT),
                                                (self._out_ports, output_device, output_connect, PORT_IS_INPUT)):
            if device is None:
                theirs = _ports(self._lib, self._client, None, direction | PORT_IS_PHYSICAL)
                label = "physical " + ("capture" if direction == PORT_IS_OUTPUT else "playback") + " ports"
            else:
                theirs = _ports(self._lib, self._client, f"^{re.escape(str(device))}:".encode(), direction)
                label = f"{'output' if direction == PORT_IS_OUTPUT else 'input'} ports of JACK client {device!r}"
            for k, index in enumerate(wanted):
                if index >= len(theirs):
                    clients = sorted({name.split(":")[0] for name in _ports(self._lib, self._client, None, 0)})
                    raise DeviceError(f"port {index + 1} of the {label} does not exist (it has {len(theirs)}); "
                                      f"JACK clients: {', '.join(clients) or 'none'}")
                mine = self._lib.jack_port_name(ctypes.c_void_p(int(ours[k]))).decode()
                plan.append((theirs[index], mine) if direction == PORT_IS_OUTPUT else (mine, theirs[index]))
        return plan

    @property
    def active(self):
        """Whether libjack is calling the client (started, and the server has not shut it down)."""
        return self._active and not self.server_gone

    @property
    def server_gone(self):
        """Whether the server shut the client down (it went away)."""
        return bool(self._header[J_SHUTDOWN])

    def port_names(self):
        """(input port names, output port names) of this client, e.g. (["engine:in_0"], ["engine:out_0", ...])."""
        names = [[self._lib.jack_port_name(ctypes.c_void_p(int(port))).decode() for port in ports]
                 for ports in (self._in_ports, self._out_ports)]
        return names[0], names[1]

    def start(self):
        """Activate the client (libjack starts calling ``process``) and connect its ports.

        Raises
        ------
        DeviceError
            If the server refuses.
        """
        if self._active:
            return
        if self.chain is None:
            raise DeviceError(f"JACK client {self.name!r} has no chain to run: attach() one first")
        if self._lib.jack_activate(self._client) != 0:
            raise DeviceError(f"the JACK server refused to activate client {self.name!r}")
        self._active = True
        for source, destination in self._connections:
            code = self._lib.jack_connect(self._client, source.encode(), destination.encode())
            if code not in (0, 17):  # 17: EEXIST, already connected
                raise DeviceError(f"the JACK server refused to connect {source} to {destination} (code {code})")

    def stop(self):
        """Deactivate: libjack stops calling ``process`` (and disconnects the ports).

        Nothing is asked of a server that went away (libjack would wait for it forever).
        """
        if self._active and not self.closed and not self.server_gone:
            self._lib.jack_deactivate(self._client)
        self._active = False

    def close(self):
        """Deactivate and close the client; nothing of it is called afterwards.

        A client whose server went away is left as it is (closing it would wait for the server).
        """
        if self.closed:
            return
        self.stop()
        if not self.server_gone:
            self._lib.jack_client_close(self._client)
        self._client = None
        self.closed = True
