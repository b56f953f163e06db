"""Every way ``engine-live --virtual`` ends is clean: q, Ctrl-C, SIGTERM, --duration, the server killed.

Each run is the real command (``python -m engine.cli_run live --virtual``) on the shipped
configuration, with its stdin on a pseudo-terminal that is its controlling terminal, as in a
shell: ``q`` is typed there, and Ctrl-C is the terminal's ^C (SIGINT to the foreground process
group, which holds the engine's children too unless they have their own). After each run:
- the documented exit status (engine/cli/__init__.py) within 2 s of the trigger (``--duration``: of the
  deadline), no traceback, and exactly the expected line on stderr;
- the recording written, and equal to offline processing (the model through the plain
  Processor: the shipped config's limiter never acts on the demo clip) up to the stop, within
  the 1e-5 the end-to-end test of tests/test_live.py allows;
- no jackd or player process, no registration in JACK2's /dev/shm registry and no /dev/shm file
  of the run's server left behind.

The issue's acceptance is 20 runs of each path: ``ENGINE_EXIT_REPEATS=20 pytest tests/test_live_exits.py``
(the default, 2, keeps CI short). Needs jackd (Debian jackd2), libportaudio2 and JACK-Client.
"""

import fcntl
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import numpy as np
import pytest
import soundfile
from conftest import REPO

REPEATS = int(os.environ.get("ENGINE_EXIT_REPEATS", "2"))
CONFIG = REPO / "configs/guitar.yaml"
LEAD_IN_SECONDS = 0.5  # run_virtual's default
EXIT_WITHIN = 2.0  # seconds from the trigger to the exit status
START_TIMEOUT = 180.0  # a cold numba cache compiles every kernel first
TOLERANCE = 1e-5  # as tests/test_live.py's end-to-end test of --virtual

EXPECTED = {
    # path: (exit status, stderr lines as regular expressions)
    "q": (0, []),
    "sigint": (130, [r"engine-live: interrupted"]),
    "sigterm": (143, [r"engine-live: terminated"]),
    "duration": (0, []),
    "server-killed": (1, [(r"engine-live: error: the JACK server '[^']+' went away \(killed by SIGKILL\) after "
                           r"[\d.]+ s of audio; wrote the recording up to there to .+")]),
}
DURATION = 4.0
XRUN_RUNS = []  # (path, repeat, xruns, seconds equal before the first difference): printed at the end


@pytest.fixture(scope="module", autouse=True)
def _report_xruns():
    yield
    if XRUN_RUNS:
        print(f"\n{len(XRUN_RUNS)} run(s) had xruns, so their recordings differ from offline processing after a "
              f"point (path, repeat, xruns, exact seconds): {XRUN_RUNS}")


def _needs_jack():
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install --no-install-recommends jackd2)")
    pytest.importorskip("jack", reason="JACK-Client is not installed (pip install JACK-Client)")


def _with_controlling_tty():
    """preexec_fn: a new session whose controlling terminal is stdin (a pty), as a shell gives a job."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class EngineLive:
    """engine-live in a child process: stdin on a pty, stdout and stderr read line by line with times."""

    def __init__(self, *args):
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli_run", "live", *args], stdin=slave, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=REPO, preexec_fn=_with_controlling_tty,  # noqa: PLW1509
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        os.close(slave)
        self.stdout, self.stderr = [], []
        self.readers = [threading.Thread(target=self._read, args=(pipe, lines), daemon=True)
                        for pipe, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(pipe, lines):
        for raw in pipe:
            lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def text(self):
        return "\n".join(line for _, line in self.stdout) + "\n--- stderr ---\n" + \
            "\n".join(line for _, line in self.stderr)

    def wait_for(self, pattern, count=1, timeout=START_TIMEOUT):
        """The time of the ``count``-th stdout line matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [(at, line) for at, line in list(self.stdout) if re.search(pattern, line)]
            if len(hits) >= count:
                return hits[count - 1]
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the readers drain
                hits = [(at, line) for at, line in list(self.stdout) if re.search(pattern, line)]
                if len(hits) >= count:
                    return hits[count - 1]
                pytest.fail(f"engine-live exited ({self.process.returncode}) before {pattern!r}:\n{self.text()}")
            time.sleep(0.02)
        pytest.fail(f"no {pattern!r} within {timeout:g} s:\n{self.text()}")

    def wait_exit(self, timeout):
        """(exit status, time it exited), or (None, None) if it is still running after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                exited = time.monotonic()
                for reader in self.readers:
                    reader.join(5)
                return self.process.returncode, exited
            time.sleep(0.005)
        return None, None

    def type(self, data):
        os.write(self.master, data)

    def kill(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def close(self):
        self.kill()
        os.close(self.master)


def processes_mentioning(name):
    """pids of processes whose command line contains ``name`` (the server's jackd and the player)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                words = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and name.encode() in words:
            found.append(int(entry))
    return found


def jackd_pid(name):
    for pid in processes_mentioning(name):
        with open(f"/proc/{pid}/comm") as handle:
            if handle.read().strip() == "jackd":
                return pid
    return None


def registered_servers():
    """Server names in JACK2's registry (/dev/shm/jack-shm-registry: 8 slots {pid_t; char[257]} at byte 24)."""
    try:
        with open("/dev/shm/jack-shm-registry", "rb") as handle:
            data = handle.read(24 + 8 * 264)
    except OSError:
        return []
    names = []
    for slot in range(8):
        offset = 24 + slot * 264
        pid, = struct.unpack_from("<i", data, offset)
        if pid:
            stored = data[offset + 4:offset + 261].split(b"\0")[0].decode(errors="replace")
            names.append(stored.split(":")[1] if ":" in stored else stored)
    return names


def shm_files_of(name):
    return [entry for entry in os.listdir("/dev/shm") if name in entry]


def _clean_up_after(name):
    """Whatever a failed run left: stop it the way jackd unregisters (SIGTERM), then force."""
    pids = processes_mentioning(name)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while processes_mentioning(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in processes_mentioning(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        from engine.live.virtual import clear_stale_registrations
    except ImportError:
        return
    time.sleep(0.2)
    clear_stale_registrations(name=name)


@pytest.fixture(scope="module")
def offline_demo():
    """The demo clip with run_virtual's lead-in, at 48 kHz, through the shipped chain offline (engine.Chain)."""
    import engine
    from engine.config import load_config
    from engine.resample import resample

    config = load_config(CONFIG)
    assert config.input_gain_db == 0 and config.output_gain_db == 0 and len(config.models) == 1
    rate = 48000
    clip, clip_rate = soundfile.read(config.demo_clip, dtype="float32")
    signal_ = np.concatenate([np.zeros(int(LEAD_IN_SECONDS * rate), np.float32), resample(clip, clip_rate, rate)])
    expected = engine.Chain.from_config(config, sample_rate=rate).process(signal_)[int(LEAD_IN_SECONDS * rate):]
    # The live chain is then exactly the offline one: the limiter (ceiling -0.3 dBFS) never acts.
    assert np.max(np.abs(expected)) < 10 ** (-0.3 / 20)
    return expected, rate


@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.parametrize("path", list(EXPECTED))
def test_virtual_run_ends_cleanly(path, repeat, tmp_path, offline_demo):
    _needs_jack()
    expected, rate = offline_demo
    code_expected, stderr_expected = EXPECTED[path]
    record = tmp_path / "virtual.wav"
    args = ["--config", str(CONFIG), "--virtual", "--record", str(record)]
    if path == "duration":
        args += ["--duration", str(DURATION)]
    engine = EngineLive(*args)
    name = None
    try:
        _, first = engine.wait_for(r"JACK dummy server '")
        name = re.search(r"JACK dummy server '([^']+)'", first)[1]
        if path == "duration":
            first_status, _ = engine.wait_for(r"^DSP ")
            trigger = first_status + DURATION - 1.0  # the deadline is at most this late (status lines: every 1 s)
        else:
            engine.wait_for(r"^DSP ", count=3)  # 3 s of audio: the clip is playing
            if path == "q":
                engine.type(b"q")
            elif path == "sigint":
                engine.type(b"\x03")  # the terminal's Ctrl-C
            elif path == "sigterm":
                engine.process.send_signal(signal.SIGTERM)
            elif path == "server-killed":
                pid = jackd_pid(name)
                assert pid is not None, f"no jackd for {name}"
                os.kill(pid, signal.SIGKILL)
            trigger = time.monotonic()
        code, exited = engine.wait_exit(timeout=max(30.0, trigger - time.monotonic() + 30))
        assert code is not None, f"engine-live hung after {path}:\n{engine.text()}"
        took = exited - trigger
        output = engine.text()
        assert "Traceback" not in output, output
        assert code == code_expected, output
        assert took <= EXIT_WITHIN, f"exit {took:.2f} s after {path}:\n{output}"
        stderr = [line for _, line in engine.stderr if line.strip()]
        assert len(stderr) == len(stderr_expected) and all(re.fullmatch(p, line) for p, line in
                                                           zip(stderr_expected, stderr)), output

        # The recording: written up to the stop, equal to offline processing there.
        assert record.exists(), output
        written, written_rate = soundfile.read(record, dtype="float32")
        assert written_rate == rate
        xruns = int(re.search(r"^xruns: (\d+)", output, re.MULTILINE)[1]) + int(re.search(r"server xruns: (\d+)", output)[1])
        if path == "duration":
            # --duration counts audio the engine processed; each missed JACK cycle (an xrun) is a
            # period of the clip the player never got to play in that time.
            lost = xruns * 128
            assert (DURATION - 1.5) * rate - lost <= len(written) <= DURATION * rate, (len(written), output)
        else:
            assert rate <= len(written) < len(expected), (len(written), output)
        # Sample for sample up to the stop, unless the audio dropped out (an xrun: the live chain then
        # heard something else than the offline one), which the run must then have reported; it
        # is equal up to there all the same (so it is aligned and not cut short).
        bad = np.abs(written - expected[:len(written)]) > TOLERANCE
        reported = re.search(r"differs from the same chain run offline by at most ([-+.\de]+);", output)
        assert reported, output
        if bad.any() or float(reported[1]) > TOLERANCE:
            first = int(np.argmax(bad)) if bad.any() else len(written)
            assert xruns > 0, f"differs from offline processing from {first / rate:.3f} s on, without an xrun:\n{output}"
            XRUN_RUNS.append((path, repeat, xruns, first / rate))
        assert re.search(r"round trip \(player → engine → player\): \d+ frames = [\d.]+ ms", output), output

        # Nothing of the server or the player is left.
        assert processes_mentioning(name) == [], output
        assert name not in registered_servers(), output
        assert shm_files_of(name) == [], output
    finally:
        engine.close()
        if name is not None:
            _clean_up_after(name)


def test_a_killed_engine_server_leaves_no_registration_for_the_next_start():
    """jackd killed with SIGKILL keeps its registry slot (eight such block every JACK server on the
    machine); starting the engine's next server clears it, and only engine servers' slots."""
    _needs_jack()
    from engine.live.virtual import JackDummyServer, clear_stale_registrations

    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    names = [f"engine-stale-{os.getpid()}", f"not-the-engines-{os.getpid()}"]
    try:
        for name in names:
            jackd = subprocess.Popen(["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "128"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                     start_new_session=True)
            subprocess.run(["jack_wait", "-s", name, "-w", "-t", "10"], capture_output=True, env=env, timeout=20,
                           check=False)
            assert name in registered_servers()
            jackd.kill()
            jackd.wait()
            assert name in registered_servers()  # the stale slot
        server = JackDummyServer(48000, name=f"engine-next-{os.getpid()}").start()
        try:
            assert names[0] not in registered_servers() and shm_files_of(names[0]) == []
            assert names[1] in registered_servers()  # somebody else's: left alone
        finally:
            server.stop()
            server.remove_log()
        assert server.name not in registered_servers() and shm_files_of(server.name) == []
    finally:
        clear_stale_registrations(prefix="", name=names[1])
        clear_stale_registrations(name=names[0])
    assert names[1] not in registered_servers()


def test_a_dead_clients_semaphore_of_an_engine_server_gone_is_cleared_and_no_one_elses():
    """A killed engine leaves its JACK client's semaphore file after its server unregistered; the next start clears it."""
    _needs_jack()
    from engine.live.virtual import JackDummyServer

    uid = os.getuid()
    orphan = f"/dev/shm/jack_sem.{uid}_engine-orphan-{os.getpid()}_PortAudio"
    foreign = f"/dev/shm/jack_sem.{uid}_someone-elses-{os.getpid()}_client"
    for path in (orphan, foreign):
        with open(path, "wb") as handle:
            handle.write(bytes(32))
    try:
        server = JackDummyServer(48000, name=f"engine-next-{os.getpid()}").start()
        try:
            assert not os.path.exists(orphan), "the orphaned semaphore of a gone engine server was left"
            assert os.path.exists(foreign), "another program's semaphore was removed"
            assert shm_files_of(server.name), "the running server's own files must stay"
        finally:
            server.stop()
            server.remove_log()
    finally:
        for path in (orphan, foreign):
            if os.path.exists(path):
                os.unlink(path)


LIVE_EXPECTED = {
    "q": (0, []),
    "sigint": (130, [r"engine-live: interrupted"]),
    "sigterm": (143, [r"engine-live: terminated"]),
    "server-killed": (1, [r"engine-live: error: the audio device or server went away after [\d.]+ s of audio .*"]),
}


@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.parametrize("path", list(LIVE_EXPECTED))
def test_live_run_on_an_interface_ends_cleanly(path, repeat):
    """The same exits without --virtual, on a JACK server that stands in for the user's interface."""
    _needs_jack()
    from engine.live.virtual import JackDummyServer

    code_expected, stderr_expected = LIVE_EXPECTED[path]
    server = JackDummyServer(48000, name=f"engine-exits-{os.getpid()}-{path}-{repeat}").start()
    engine = None
    try:
        env_before = dict(os.environ)
        os.environ.update(server.environment())
        try:
            engine = EngineLive("--config", str(CONFIG), "--duration", "60")
        finally:
            os.environ.clear()
            os.environ.update(env_before)
        engine.wait_for(r"^DSP ", count=2)
        if path == "q":
            engine.type(b"q")
        elif path == "sigint":
            engine.type(b"\x03")
        elif path == "sigterm":
            engine.process.send_signal(signal.SIGTERM)
        else:
            server.process.kill()
        trigger = time.monotonic()
        code, exited = engine.wait_exit(timeout=30)
        assert code is not None, f"engine-live hung after {path}:\n{engine.text()}"
        output = engine.text()
        assert "Traceback" not in output, output
        assert code == code_expected, output
        assert exited - trigger <= EXIT_WITHIN, f"exit {exited - trigger:.2f} s after {path}:\n{output}"
        stderr = [line for _, line in engine.stderr if line.strip()]
        assert len(stderr) == len(stderr_expected) and all(re.fullmatch(p, line) for p, line in
                                                           zip(stderr_expected, stderr)), output
        assert re.search(r"^played [\d.]+ s: \d+ blocks", output, re.MULTILINE), output  # the summary came
    finally:
        if engine is not None:
            engine.close()
        server.stop()
        server.remove_log()
    assert server.name not in registered_servers() and shm_files_of(server.name) == []
    assert processes_mentioning(server.name) == []


@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_a_signal_while_starting_stops_the_start_cleanly(how, repeat, tmp_path):
    """Ctrl-C or SIGTERM while the server starts and the models load: the same exit status, one line, nothing left."""
    _needs_jack()
    engine = EngineLive("--config", str(CONFIG), "--virtual", "--record", str(tmp_path / "virtual.wav"))
    name = None
    try:
        _, first = engine.wait_for(r"JACK dummy server '")
        name = re.search(r"JACK dummy server '([^']+)'", first)[1]
        time.sleep(0.1 * repeat)  # land in different places of the start
        if how == "sigint":
            engine.type(b"\x03")
        else:
            engine.process.send_signal(signal.SIGTERM)
        trigger = time.monotonic()
        code, exited = engine.wait_exit(timeout=30)
        assert code is not None, f"engine-live hung after {how}:\n{engine.text()}"
        output = engine.text()
        assert "Traceback" not in output and "Exception ignored" not in output, output
        assert code == EXPECTED[how][0], output
        assert exited - trigger <= EXIT_WITHIN, f"exit {exited - trigger:.2f} s after {how}:\n{output}"
        stderr = [line for _, line in engine.stderr if line.strip()]
        assert len(stderr) == 1 and re.fullmatch(EXPECTED[how][1][0], stderr[0]), output
        assert processes_mentioning(name) == [], output
        assert name not in registered_servers(), output
        assert shm_files_of(name) == [], output
    finally:
        engine.close()
        if name is not None:
            _clean_up_after(name)
