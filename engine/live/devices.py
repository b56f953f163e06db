"""The audio devices PortAudio sees: the only module that imports sounddevice (importing it starts PortAudio)."""

from ..errors import DeviceError
from .quiet import quiet_stderr

_sounddevice = None  # the module once imported (importing it initialises PortAudio)
#: How many times PortAudio has been shut down in this process. A stream belongs to the
#: PortAudio it was opened under: Pa_Terminate closes and frees it, and a later call with its
#: pointer (stop, close) would reach freed memory, worse so once PortAudio runs again.
_generation = 0


def portaudio_generation():
    """The number of PortAudio shutdowns so far: a stream opened under an older one no longer exists."""
    return _generation


def sounddevice():
    """The sounddevice module, imported (and PortAudio initialised) on first use.

    Raises
    ------
    DeviceError
        If the PortAudio library is not installed.
    """
    global _sounddevice
    if _sounddevice is None:
        try:
            with quiet_stderr():
                import sounddevice as sd
        except OSError as exc:
            raise DeviceError(f"cannot load PortAudio ({exc}); install it: apt-get install libportaudio2") from None
        _sounddevice = sd
    return _sounddevice


def reinitialize_portaudio():
    """Make PortAudio rescan devices, e.g. after an audio server was started or replaced."""
    global _generation
    sd = sounddevice()
    with quiet_stderr():
        if sd._initialized:
            _generation += 1
            sd._terminate()
        sd._initialize()


def terminate_portaudio():
    """Shut PortAudio down (needed before stopping a JACK server it is connected to)."""
    global _generation
    if _sounddevice is not None and _sounddevice._initialized:
        _generation += 1
        with quiet_stderr():
            _sounddevice._terminate()


def abandon_portaudio():
    """Leave PortAudio alone for the rest of the process: the audio server it is attached to has gone.

    Pa_Terminate blocks forever on a JACK server that died (and so would sounddevice's exit
    handler, which calls it); without them the process exits normally. PortAudio is not
    usable in this process afterwards.
    """
    global _generation
    if _sounddevice is not None and _sounddevice._initialized:
        import atexit

        _generation += 1
        atexit.unregister(_sounddevice._exit_handler)
        _sounddevice._initialized = 0  # so terminate_portaudio and sounddevice's own checks leave it be


def list_devices():
    """A printable table of what PortAudio sees: index, name, host API, channels, default rate."""
    sd = sounddevice()
    devices = sd.query_devices()
    if not len(devices):
        return "no audio devices (PortAudio sees none)"
    apis = sd.query_hostapis()
    lines = [f"{'':2}{'#':>3}  {'name':<40} {'host API':<28} {'in':>3} {'out':>3} {'rate':>8}"]
    default_in, default_out = sd.default.device
    for index, device in enumerate(devices):
        mark = ("<" if index == default_in else " ") + (">" if index == default_out else " ")
        lines.append(f"{mark}{index:>3}  {device['name'][:40]:<40} {apis[device['hostapi']]['name'][:28]:<28} "
                     f"{device['max_input_channels']:>3} {device['max_output_channels']:>3} "
                     f"{device['default_samplerate']:>8.0f}")
    lines.append("(< default input, > default output)")
    return "\n".join(lines)


def _available(kind):
    devices = sounddevice().query_devices()
    key = f"max_{kind}_channels"
    names = [f"{i} {d['name']!r}" for i, d in enumerate(devices) if d[key] > 0]
    return ", ".join(names) if names else "none"


def resolve_device(spec, kind):
    """The PortAudio index of an input or output device.

    Parameters
    ----------
    spec : int, str or None
        An index, a case-insensitive part of the name, or None for the default device.
    kind : str
        "input" or "output".

    Returns
    -------
    int

    Raises
    ------
    DeviceError
        If there is no such device, the name is ambiguous, or no device of that kind exists;
        the message lists what is available.
    """
    sd = sounddevice()
    devices = sd.query_devices()
    key = f"max_{kind}_channels"
    usable = [i for i, d in enumerate(devices) if d[key] > 0]
    if not usable:
        raise DeviceError(f"no audio {kind} device found (PortAudio sees {len(devices)} device(s), none with "
                          f"{kind} channels); connect an interface, start an audio server, or run with --virtual")
    if spec is None:
        default = sd.default.device[0 if kind == "input" else 1]
        return default if default in usable else usable[0]
    if isinstance(spec, int):
        if spec not in usable:
            raise DeviceError(f"{kind} device {spec} does not exist or has no {kind} channels; "
                              f"available: {_available(kind)}")
        return spec
    matches = [i for i in usable if spec.lower() in devices[i]["name"].lower()]
    if not matches:
        raise DeviceError(f"no {kind} device matches {spec!r}; available: {_available(kind)}")
    if len(matches) > 1:
        found = ", ".join(f"{i} {devices[i]['name']!r}" for i in matches)
        raise DeviceError(f"{kind} device {spec!r} is ambiguous: it matches {found}; give an index")
    return matches[0]


def jack_device():
    """The index of PortAudio's JACK device (the server PortAudio was initialised against)."""
    sd = sounddevice()
    for index, device in enumerate(sd.query_devices()):
        api = sd.query_hostapis(device["hostapi"])["name"]
        if "JACK" in api and device["max_input_channels"] > 0 and device["max_output_channels"] > 0:
            return index
    raise DeviceError("PortAudio sees no JACK device: is this PortAudio built with JACK support (libportaudio2)?")


def has_duplex_device():
    """Whether PortAudio sees any device to play through (one with input and one with output channels)."""
    devices = sounddevice().query_devices()
    return any(d["max_input_channels"] > 0 for d in devices) and any(d["max_output_channels"] > 0 for d in devices)
