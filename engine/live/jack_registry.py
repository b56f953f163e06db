"""JACK2's server registry in /dev/shm: listing it, and clearing what the engine's dead servers left.

A jackd that died without unregistering (SIGKILL, a crash) keeps its slot in the registry of at
most eight servers, and jackd reuses a dead slot only for the same server name: eight leftovers
stop every later server from starting ("Too many servers already active").
"""

import ctypes
import mmap
import os
import struct

#: Every JACK server the engine starts is named with this prefix; stale registrations are
#: cleared only for names that start with it.
SERVER_PREFIX = "engine-"

# -- JACK2's server registry (/dev/shm/jack-shm-registry) ---------------------------------------
# Layout of JACK2 1.9 (common/shm.h): a header {uint32 magic; uint16 protocol; int type;
# int32 size, hdr_len, entry_len; {pid_t pid; char name[257]} server[8]}, then 256 segment entries
# {int16 index; pid_t allocator; int32 size; char id[256]}. jackd locks it with a SysV semaphore.
REGISTRY_PATH = "/dev/shm/jack-shm-registry"
_MAGIC = 0x4A41434B  # "JACK"
_SLOT0, _SLOT_LEN, _MAX_SERVERS = 24, 264, 8
_ENTRY0, _ENTRY_LEN, _MAX_SEGMENTS = _SLOT0 + _SLOT_LEN * _MAX_SERVERS, 268, 256
_SEMAPHORE_KEY = 0x282929
_SEM_UNDO = 0x1000


class _SemBuf(ctypes.Structure):
    _fields_ = [("sem_num", ctypes.c_ushort), ("sem_op", ctypes.c_short), ("sem_flg", ctypes.c_short)]


def _is_running_jackd(pid):
    """Whether ``pid`` is a live (not zombie) jackd process."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return False
    name, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:][:1]
    return state != "Z" and name.startswith("jackd")


def _registry_layout_ok(data):
    if len(data) < _ENTRY0 + _ENTRY_LEN * _MAX_SEGMENTS:
        return False
    magic, = struct.unpack_from("<I", data, 0)
    hdr_len, entry_len = struct.unpack_from("<ii", data, 16)
    return magic == _MAGIC and hdr_len == _ENTRY0 and entry_len == _ENTRY_LEN


def _slot(data, index):
    """(pid, user, server name) of a registry slot; the stored name is "jack-<uid>:<server>:"."""
    offset = _SLOT0 + index * _SLOT_LEN
    pid, = struct.unpack_from("<i", data, offset)
    stored = bytes(data[offset + 4:offset + 4 + 257]).split(b"\0")[0].decode(errors="replace")
    parts = stored.split(":")
    return pid, parts[0], parts[1] if len(parts) > 1 else stored


def registrations():
    """The servers JACK2's registry lists.

    Returns
    -------
    list of (str, int, bool)
        (server name, pid, whether that pid is a running jackd), for every occupied slot; empty
        if there is no registry or its layout is not JACK2's.
    """
    try:
        with open(REGISTRY_PATH, "rb") as handle:
            data = handle.read(_ENTRY0 + _ENTRY_LEN * _MAX_SEGMENTS)
    except OSError:
        return []
    if not _registry_layout_ok(data):
        return []
    found = []
    for index in range(_MAX_SERVERS):
        pid, _, name = _slot(data, index)
        if pid:
            found.append((name, pid, _is_running_jackd(pid)))
    return found


def clear_stale_registrations(prefix=SERVER_PREFIX, name=None):
    """Remove what dead engine servers left in /dev/shm: registry slot, segments, semaphores, socket.

    A slot is stale when its pid is not a running jackd. Only slots of this user whose server
    name starts with ``prefix`` (or is exactly ``name``) are touched, under jackd's own registry
    lock, as jackd itself releases a slot on a clean exit.

    Parameters
    ----------
    prefix : str
    name : str, optional
        Clear only this server (e.g. the one we just had to kill).

    Returns
    -------
    list of str
        The server names whose leftovers were removed.
    """
    if not os.path.exists(REGISTRY_PATH):
        return []
    libc = ctypes.CDLL(None, use_errno=True)
    semaphore = libc.semget(_SEMAPHORE_KEY, 0, 0)
    if semaphore == -1:  # no jackd has run since boot: nobody can hold the lock, but the registry is then fresh
        return []
    user = f"jack-{os.getuid()}"
    cleared, dead_pids = [], set()
    if libc.semop(semaphore, ctypes.byref(_SemBuf(0, -1, _SEM_UNDO)), 1) != 0:
        return []
    try:
        with open(REGISTRY_PATH, "r+b") as handle, mmap.mmap(handle.fileno(), 0) as data:
            if not _registry_layout_ok(data):
                return []
            for index in range(_MAX_SERVERS):
                pid, owner, server = _slot(data, index)
                if not pid or owner != user or _is_running_jackd(pid):
                    continue
                if not (server == name if name is not None else server.startswith(prefix)):
                    continue
                offset = _SLOT0 + index * _SLOT_LEN
                data[offset:offset + _SLOT_LEN] = bytes(_SLOT_LEN)
                cleared.append(server)
                dead_pids.add(pid)
            # The dead servers' shared-memory segments (the next jackd would remove those of any dead
            # process; these can be 100 MB each, so do not wait for it).
            for index in range(_MAX_SEGMENTS):
                offset = _ENTRY0 + index * _ENTRY_LEN
                allocator, = struct.unpack_from("<i", data, offset + 4)
                if allocator in dead_pids:
                    segment = bytes(data[offset + 12:offset + _ENTRY_LEN]).split(b"\0")[0].decode(errors="replace")
                    if segment.startswith("/") and "/" not in segment[1:]:
                        _unlink(os.path.join("/dev/shm", segment[1:]))
                    data[offset + 4:offset + _ENTRY_LEN] = bytes(_ENTRY_LEN - 4)
    finally:
        libc.semop(semaphore, ctypes.byref(_SemBuf(0, 1, _SEM_UNDO)), 1)
    for server in cleared:
        for leftover in leftovers(server):
            _unlink(leftover)
    _clear_orphaned_semaphores(prefix, name)
    return cleared


def _clear_orphaned_semaphores(prefix, name):
    """Remove client semaphores of engine servers that are no longer registered at all.

    A client that dies without closing (a crashed or killed engine) leaves its semaphore file
    ``jack_sem.<uid>_<server>_<client>`` even after its server unregistered cleanly. Engine server
    names hold no underscore, so the server's name is the text up to the next one.
    """
    live = {server for server, _, running in registrations() if running}
    start = f"jack_sem.{os.getuid()}_"
    try:
        entries = os.listdir("/dev/shm")
    except OSError:
        return
    for entry in entries:
        if not entry.startswith(start):
            continue
        server = entry[len(start):].split("_", 1)[0]
        wanted = server == name if name is not None else server.startswith(prefix)
        if wanted and server not in live:
            _unlink(os.path.join("/dev/shm", entry))


def leftovers(name):
    """Files in /dev/shm that belong to server ``name``: its semaphores and its socket."""
    try:
        entries = os.listdir("/dev/shm")
    except OSError:
        return []
    owned = (f"jack_sem.{os.getuid()}_{name}_", f"jack_{name}_")
    return [os.path.join("/dev/shm", entry) for entry in entries if entry.startswith(owned)]


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass
