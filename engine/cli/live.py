"""engine-live: a model live on the audio interface, or on a virtual one."""

import argparse
import os
import sys

from ..errors import AudioFileError, DeviceError
from .common import check_output, entry_point, make_folders, rate_argument

def _device_spec(text):
    """argparse type for a device: an index or part of a name."""
    return int(text) if text.strip().isdigit() else text


@entry_point
def live_main(argv=None):
    """engine-live: play a model live through the audio interface.

    Exit status: 0 when the run stops normally (``q``, ``--duration``, the end of ``--virtual``'s
    clip); 1 on an EngineError, among them a DeviceError when the device or the audio server goes
    away mid-run (one line on stderr; ``--virtual`` still writes its recording up to there); 130 on
    Ctrl-C (SIGINT) and 143 on SIGTERM. A signal while the audio runs stops it in order, as ``q``
    does (``--virtual``: player, stream, PortAudio, then the JACK server, and the recording is
    written up to the stop); one while models load or the server starts abandons the start, and
    whatever was started is stopped on the way out.
    """
    parser = argparse.ArgumentParser(
        prog="engine-live",
        description="Run a trained LSTM/GRU model live on an audio interface at whatever rate the interface runs, "
                    "correcting the model to that rate. Keys while running: b bypass, 1-9 switch model, [ and ] select a control "
                    "(gains, knobs, gate, EQ, cabinet), - and = move it, q quit; MIDI control change moves the same "
                    "controls when the config has a midi: section (configs/README.md). "
                    "Exit status: 0 normal stop, 1 error (including the device or audio server going away), "
                    "130 Ctrl-C, 143 SIGTERM.",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (see configs/README.md)")
    parser.add_argument("--list-devices", action="store_true", help="list the audio devices PortAudio sees and exit")
    parser.add_argument("--list-midi", nargs="?", const="auto", choices=("auto", "alsa", "jack"), metavar="API",
                        help="list the MIDI sources a config's midi.port can name and exit (API: alsa, jack or "
                             "auto, the platform's default; needs the midi extra)")
    parser.add_argument("--check", action="store_true",
                        help="check the config (every key, the models, the chain's files, the MIDI map) without "
                             "opening any device, say what would run, and exit")
    parser.add_argument("--device", type=_device_spec, metavar="D",
                        help="input and output device: an index or part of its name (overrides the config)")
    parser.add_argument("--input-device", type=_device_spec, metavar="D", help="input device only")
    parser.add_argument("--output-device", type=_device_spec, metavar="D", help="output device only")
    parser.add_argument("--rate", type=rate_argument, metavar="HZ", help="sample rate (default: the config's, else the device's)")
    parser.add_argument("--audio-api", choices=("portaudio", "jack"),
                        help="portaudio (any audio API; the default, unless the config says audio_api: jack) or "
                             "jack: a native JACK client, its ports connected to the physical ports or to those of "
                             "the JACK client --device names (--virtual always runs the native client)")
    parser.add_argument("--block-size", type=int, metavar="N",
                        help="frames per audio callback (with --virtual also the JACK server's period)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stop by itself after S seconds of audio (with --virtual: or at the end of the clip, "
                             "whichever comes first)")
    parser.add_argument("--virtual", action="store_true",
                        help="no sound card needed: start a JACK dummy server, play the config's demo_clip "
                             "through the live path and record what comes out (see --record)")
    parser.add_argument("--virtual-if-no-device", action="store_true",
                        help="use --virtual when PortAudio sees no audio interface")
    parser.add_argument("--record", metavar="WAV", default="out/engine-live-virtual.wav",
                        help="where --virtual writes the recording (default: out/engine-live-virtual.wav)")
    parser.add_argument("--force", action="store_true", help="replace an existing --record file")
    args = parser.parse_args(argv)
    if args.duration is not None and not args.duration > 0:
        parser.error("--duration must be a positive number of seconds")

    from ..live.keys import SIGNAL_EXIT_CODES, StopRequest, Terminated, stop_on_signals

    stop = StopRequest()
    try:
        with stop_on_signals(stop):
            code = _live(args, parser, stop)
    except Terminated:
        print("engine-live: terminated", file=sys.stderr)
        return SIGNAL_EXIT_CODES["SIGTERM"]
    if stop.reason in SIGNAL_EXIT_CODES:
        print(f"engine-live: {'interrupted' if stop.reason == 'SIGINT' else 'terminated'}", file=sys.stderr)
        return SIGNAL_EXIT_CODES[stop.reason]
    return code


def _live(args, parser, stop):
    """engine-live after its arguments are parsed: SIGINT and SIGTERM already set ``stop`` (see live_main)."""
    from .. import live

    if args.list_devices:
        print(live.list_devices())
        return 0
    if args.list_midi:
        from ..live.midi import list_midi_inputs, resolve_api

        print(list_midi_inputs(resolve_api(args.list_midi, None)))
        return 0
    if not args.config:
        parser.error("--config FILE is required (or --list-devices, --list-midi)")
    from ..config import load_config

    config = load_config(args.config)
    overrides = {}
    if args.device is not None:
        overrides["input_device"] = overrides["output_device"] = args.device
    if args.input_device is not None:
        overrides["input_device"] = args.input_device
    if args.output_device is not None:
        overrides["output_device"] = args.output_device
    if args.rate is not None:
        overrides["sample_rate"] = args.rate
    if args.block_size is not None:
        overrides["block_size"] = args.block_size
    if args.audio_api is not None:
        overrides["audio_api"] = args.audio_api
    config = config.replace(**overrides)
    if args.check:
        return _check(config)
    virtual = args.virtual
    if not virtual and args.virtual_if_no_device and not live.has_duplex_device():
        print("engine-live: no audio interface found; running on a virtual one (JACK dummy server) instead")
        virtual = True
    if virtual:
        if os.path.lexists(args.record) and not args.force:
            raise AudioFileError(f"{args.record}: already exists; pass --force to replace it")
        check_output(args.record, "--record", create_folders=True)  # before the server starts, not after the run
        make_folders(os.path.dirname(os.path.abspath(args.record)), "--record")
        with live.KeyReader() as keys:
            result = live.run_virtual(config, args.record, keys=keys, duration=args.duration, stop=stop)
        if "error" in result:
            written = f"; wrote the recording up to there to {result['record_path']}" if "record_path" in result else ""
            raise DeviceError(result["error"] + written)
        return result["code"]

    session = live.LiveSession(config).open()
    where = (f"JACK client {session.stream.name!r}" if config.audio_api == "jack" else f"{session.stream.device}")
    print(f"engine-live: {session.describe_model()} on {where} at {session.sample_rate:g} Hz, "
          f"block {session.block_size}; chain: {' → '.join(config.chain.order)}; keys: b bypass, "
          f"1-{len(session.chain.processors)} model, [ ] select a control, - = turn it, q quit")
    if session.midi is not None:
        print(f"engine-live: MIDI from {session.midi.port_name}: "
              + ", ".join(f"cc {m.cc} → {m.control}" for m in session.midi.settings.mappings))
    stop.listening = True
    with live.KeyReader() as keys:
        code = session.run(duration=args.duration, keys=keys, stop_event=stop)
    if session.abandoned:
        # The stream stopped delivering audio; PortAudio cannot be shut down now (it would block).
        from ..live.devices import abandon_portaudio

        abandon_portaudio()
        seconds = session.callbacks * session.block_size / session.sample_rate
        raise DeviceError(f"the audio device or server went away after {seconds:.1f} s of audio "
                          f"(check its connection, or that the audio server still runs)")
    return code


def _check(config):
    """engine-live --check: load what the config names (models, IR, MIDI map) without a device; 0 if it all loads."""
    from .. import live
    from ..dsp.cabinet import Cabinet

    session = live.LiveSession(config)  # loads every model; refuses a MIDI map its models cannot follow
    models = ", ".join(f"{model.name} ({model.num_controls} knob(s), trained at {model.sample_rate:g} Hz)"
                       for model in session.models)
    print(f"engine-live: {config.source}: OK")
    print(f"  models: {models}")
    print(f"  chain: {' → '.join(config.chain.order)}")
    if config.chain.cabinet is not None:  # the IR file is read and checked as the stage will read it
        Cabinet.from_settings(config.chain.cabinet, float(config.sample_rate or 48000), config.block_size)
        print(f"  cabinet IR: {config.chain.cabinet.ir}")
    if config.midi is not None:
        print(f"  MIDI: port {config.midi.port!r} ({config.midi.api}), "
              + ", ".join(f"cc {m.cc} → {m.control}" for m in config.midi.mappings))
    rate = "the device's" if config.sample_rate is None else f"{config.sample_rate:g} Hz"
    print(f"  audio: {config.audio_api}, block {config.block_size}, rate {rate}")
    return 0
