"""MIDI control change moving a live session's controls (the config's ``midi:``, engine.midi_settings).

python-rtmidi (the optional ``midi`` extra: ``pip install -e '.[midi]'``) reads the port, on
ALSA's sequencer or as a JACK MIDI client. rtmidi calls :meth:`MidiInput._receive` on its own
thread for each message; a control change the map names is turned into the control's value and
posted like a key press (LiveSession.set_gains / set_controls / set_stages: the request seqlock,
applied at the callback's next block boundary, ramped there). The audio thread never sees MIDI:
it reads only the request array, so a stalled interpreter delays a knob, never sound.

rtmidi alone, not mido on top of it: a control change is three bytes (status 0xB0 + channel,
controller, value), and mido's rtmidi backend names its local JACK port after the port it
connects to ("engine-midi:system:midi_capture_1"), a connection that did not come up here.
"""

import collections
import sys
import threading

from ..errors import ControlError, DeviceError
from ..midi_settings import VIRTUAL_PORT, check_midi_knobs, check_midi_stages
from .quiet import quiet_stderr

#: The JACK / ALSA client name of the engine's MIDI input, and the name of its own port.
CLIENT_NAME = "engine-midi"
PORT_NAME = "in"
MIDI_EXTRA_HINT = "MIDI needs python-rtmidi: pip install -e '.[midi]' (the project's midi extra)"
#: Posted changes remembered for stats and tests (the latest).
LOG_LENGTH = 4096
#: The status byte's high nibble of a control change (MIDI 1.0: 0xBn, n the channel 0-15).
CONTROL_CHANGE = 0xB0


def midi_in(api):
    """An rtmidi.MidiIn on ``api`` ("alsa", "jack", or None: the platform's default), named CLIENT_NAME.

    Raises
    ------
    DeviceError
        If python-rtmidi is missing, or the MIDI system cannot be reached (no ALSA sequencer, no
        JACK server).
    """
    try:
        import rtmidi
    except ImportError:
        raise DeviceError(MIDI_EXTRA_HINT) from None
    chosen = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK, None: rtmidi.API_UNSPECIFIED}[api]
    if api is not None and chosen not in rtmidi.get_compiled_api():
        raise DeviceError(f"this python-rtmidi was built without {api} MIDI")
    try:
        with quiet_stderr():  # ALSA's and libjack's own lines; the error below says what failed
            return rtmidi.MidiIn(rtapi=chosen, name=CLIENT_NAME)
    except rtmidi.RtMidiError as exc:  # e.g. /dev/snd/seq missing, or no JACK server running
        hint = {"alsa": "is the snd-seq kernel module loaded? With a JACK server running, JACK MIDI works "
                        "instead (midi: {api: jack}; engine-live --list-midi jack)",
                "jack": "start the JACK server first, or use midi: {api: alsa}"}.get(api, "see engine-live --list-midi")
        where = {"alsa": "ALSA's sequencer", "jack": "a JACK server"}.get(api, "the platform's MIDI")
        raise DeviceError(f"cannot reach {where} for MIDI ({exc}); {hint}") from None


def list_midi_inputs(api=None):
    """The names of the MIDI sources ``api`` sees (what ``midi.port`` can name), one per line.

    Raises
    ------
    DeviceError
        As :func:`midi_in`.
    """
    port = midi_in(api)
    try:
        names = port.get_ports()
    finally:
        port.delete()
    return "\n".join(names) if names else "(no MIDI sources)"


def resolve_api(settings_api, audio_api):
    """The rtmidi API to use: the config's, or for "auto" JACK when the audio runs on JACK, else the platform's.

    Parameters
    ----------
    settings_api : str
        midi.api: "auto", "alsa" or "jack".
    audio_api : str or None
        The config's audio_api ("jack" or "portaudio").

    Returns
    -------
    str or None
        "alsa", "jack", or None for rtmidi's default.
    """
    if settings_api != "auto":
        return settings_api
    return "jack" if audio_api == "jack" else ("alsa" if sys.platform.startswith("linux") else None)


def find_port(names, wanted):
    """The index of the port among ``names`` that ``wanted`` names: exactly, else the only one containing it (any case).

    Raises
    ------
    DeviceError
        If none or several match: the message lists what there is.
    """
    if wanted in names:
        return names.index(wanted)
    matches = [i for i, name in enumerate(names) if wanted.lower() in name.lower()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DeviceError(f"midi.port {wanted!r} matches {len(matches)} MIDI sources "
                          f"({'; '.join(names[i] for i in matches)}): name one exactly")
    listed = "; ".join(names) if names else "none"
    raise DeviceError(f"midi.port {wanted!r}: no such MIDI source (there are: {listed}); "
                      f"engine-live --list-midi lists them, or use port: {VIRTUAL_PORT} to connect one to the engine")


class MidiInput:
    """A MIDI input whose control change messages move a live session's controls.

    Parameters
    ----------
    settings : engine.midi_settings.MidiSettings
    session : LiveSession
        Open (its chain exists); its config's audio_api decides what ``api: auto`` means.

    Raises
    ------
    ConfigError
        If the map names a stage the chain lacks, or a knob no model of the session has.
    """

    def __init__(self, settings, session):
        from .knobs import LiveControls

        self.settings = settings
        self.session = session
        self.controls = LiveControls(session)
        self.port = None
        self.port_name = None
        self.received = 0     # control change messages on the channel listened to
        self.applied = 0      # of them, posted to the callback
        self.ignored = 0      # a CC the map lacks, or a knob the model playing lacks
        self.refused = 0      # the control refused the value (ControlError)
        self.last = None      # the status line's text for the last change
        self.log = collections.deque(maxlen=LOG_LENGTH)  # (request seq, control key, value)
        self._lock = threading.Lock()
        self._check_map()

    def _check_map(self):
        config = self.session.config
        check_midi_stages(self.settings, self.session.chain.stages, config.source)
        check_midi_knobs(self.settings, [p.model.num_controls for p in self.session.chain.processors], config.source)

    def open(self):
        """Open the port (the engine's own, or the named source); messages are applied from now on.

        Returns
        -------
        MidiInput
            self.

        Raises
        ------
        DeviceError
            If the midi extra is missing, the MIDI system cannot be reached, or no port matches.
        """
        port = midi_in(resolve_api(self.settings.api, self.session.config.audio_api))
        try:
            if self.settings.port == VIRTUAL_PORT:
                port.open_virtual_port(PORT_NAME)
                self.port_name = f"{CLIENT_NAME}:{PORT_NAME}"
            else:
                names = port.get_ports()
                index = find_port(names, self.settings.port)
                port.open_port(index, PORT_NAME)
                self.port_name = names[index]
            port.ignore_types(sysex=True, timing=True, active_sense=True)
            port.set_callback(self._receive)
        except BaseException as exc:
            port.delete()
            if isinstance(exc, DeviceError):
                raise
            if isinstance(exc, Exception):
                raise DeviceError(f"cannot open MIDI input {self.settings.port!r} ({exc})") from None
            raise
        self.port = port
        return self

    def close(self):
        """Close the port and leave the MIDI system (no more changes are applied)."""
        port, self.port = self.port, None
        if port is not None:
            port.cancel_callback()
            port.close_port()
            port.delete()  # the JACK / ALSA client goes now, not when Python collects it

    def _receive(self, event, data=None):
        """rtmidi's thread: one message in (bytes, delta time); a mapped control change is posted to the session."""
        message = event[0]
        if len(message) != 3 or message[0] & 0xF0 != CONTROL_CHANGE:
            return
        channel, cc, cc_value = message[0] & 0x0F, message[1], message[2]
        if self.settings.channel is not None and channel != self.settings.channel - 1:
            return
        with self._lock:  # one change at a time: a knob's setter reads the others' values first
            self.received += 1
            mapping = self.settings.mapping(cc)
            control = self.controls.control(mapping.control) if mapping is not None else None
            if control is None:
                self.ignored += 1
                return
            value = round(mapping.value(cc_value), 6)  # as the keys post it
            try:
                seq = control.set(value)
            except ControlError as exc:
                self.refused += 1
                self.last = f"cc {cc}: {control.label} refused ({exc})"
                return
            except Exception as exc:  # never let rtmidi's thread die: say it in the status line
                self.refused += 1
                self.last = f"cc {cc}: {type(exc).__name__}: {exc}"
                return
            self.applied += 1
            self.log.append((seq, mapping.control, value))
            shown = f"{value:.2f}" if not control.unit else f"{value:+.1f} {control.unit}"
            self.last = f"cc {cc} → {control.label} {shown}"

    def stats(self):
        """{"port", "received", "applied", "ignored", "refused"}: what came in and what it did."""
        return {"port": self.port_name, "received": self.received, "applied": self.applied,
                "ignored": self.ignored, "refused": self.refused}

    def line(self):
        """The status line's part: "MIDI cc 20 → bass +3.0 dB" (or "MIDI: no message yet")."""
        return f"MIDI {self.last}" if self.last else "MIDI: no message yet"
