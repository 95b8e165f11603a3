"""Journal files: where a web worker puts a report it accepts, and where the writer process takes it from.

Why: answering only once a report is committed kept every request waiting on another process, and a request that
waits is parked and must win its worker's GIL back when it wakes; measured, that alone held ingest to ~70% of a
bare Flask endpoint before any database work (benchmarks/bench_ingest.py). A worker that already knows the report's
group and token (it learned them from an earlier committed answer, still valid: store.counters' change number)
instead copies the report into a journal file of its own thread and answers 201 at once; the writer process reads
the journals and writes them in its batches. The file is memory-mapped, so an append is a copy into the page cache
with no system call: a write() would release the GIL and cost a wait to win it back, as above (measured: ~5 more
context switches per request). Same durability as the database's own commits here (SQLite runs WAL with
synchronous=NORMAL: both survive a crash of any process, neither an operating-system crash), and nothing is lost or written twice: each batch saves, in its own transaction, how far
into each journal it has written (models.JournalPosition), and a position only moves from where the last one ended.

A journal is `<pid>-<uuid>.journal`, a file of FILE_BYTES allocated up front (so a full disk fails the opening,
never a copy into the mapping), written by one thread alone, as frames: length, CRC-32, then the report
(wire.encode_journal_entry); the body is copied before the header, and the zeros after the last frame end it. A
thread that is done with a file (full) renames it `.closed`; a file whose process is gone is done too. The writer
deletes a done file once all of it is written. A frame whose checksum does not match at the end of a live file is
still being copied; at the end of a done file it was never answered (the process died in the copy) and is dropped.

The state file beside them (WriterState) is how the writer tells the workers, without a round trip, whether to
take this path: it has read every journal to its end within the last two seconds (alive and keeping up), its last
write worked (healthy), and the change number it last read.
"""

from __future__ import annotations

import logging
import mmap
import os
import socket
import struct
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FRAME = struct.Struct("!II")  # body length, CRC-32 of the body
OPEN_SUFFIX = ".journal"
DONE_SUFFIX = ".closed"
FILE_BYTES = 4 * 1024 * 1024  # a journal's size: a thread starts another when one is full
STATE_FILE = "writer.state"
LOCK_FILE = "writer.lock"
DATABASE_FILE = "database.id"  # the database these journals belong to (counters.database_id)


def host_name() -> str:
    """This machine, as journal positions are keyed (journals are local files; the database may be shared)."""
    return socket.gethostname()[:100] or "localhost"


def make_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)


# --- the state file ------------------------------------------------------------------------------------------------

_CHANGES = struct.Struct("=q")  # offset 0: the change number (workers and the CLI may raise it too)
_CAUGHT_UP = struct.Struct("=d")  # offset 8: time.monotonic() when the writer last read every journal to its end
_FLAGS = struct.Struct("=q")  # offset 16: 1 = healthy and journaling
STATE_BYTES = 32
CAUGHT_UP_LIMIT = 2.0  # seconds: a writer that has not caught up for longer (stuck, gone, overrun) is not relied on


class WriterState:
    """The writer's state, shared through a memory-mapped file: reading it costs no system call.

    Each field is one aligned 8-byte word written whole, so a reader never sees half of one."""

    def __init__(self, path: Path, create: bool = False) -> None:
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if create and os.fstat(fd).st_size < STATE_BYTES:
                os.ftruncate(fd, STATE_BYTES)
            self._map = mmap.mmap(fd, STATE_BYTES)
        finally:
            os.close(fd)

    @classmethod
    def open_existing(cls, folder: Path) -> WriterState | None:
        try:
            return cls(folder / STATE_FILE)
        except (OSError, ValueError):
            return None

    @property
    def changes(self) -> int:
        return _CHANGES.unpack_from(self._map, 0)[0]

    def raise_changes(self, value: int) -> None:
        """Publish change number `value` unless a later one is there already."""
        if value > self.changes:
            _CHANGES.pack_into(self._map, 0, value)

    def usable(self) -> bool:
        """May a worker accept through its journal now? (The writer is alive, healthy and keeping up.)"""
        buf = self._map
        return (_FLAGS.unpack_from(buf, 16)[0] == 1
                and time.monotonic() - _CAUGHT_UP.unpack_from(buf, 8)[0] < CAUGHT_UP_LIMIT)

    def publish(self, healthy: bool, caught_up: bool) -> None:
        _FLAGS.pack_into(self._map, 16, 1 if healthy else 0)
        if caught_up:
            _CAUGHT_UP.pack_into(self._map, 8, time.monotonic())

    def withdraw(self) -> None:
        """The writer stops: no worker may journal from now on."""
        _FLAGS.pack_into(self._map, 16, 0)

    def close(self) -> None:
        self._map.close()


def announce_changes(folder: Path, value: int) -> None:
    """Tell this machine's workers at once that change `value` happened (the writer also reads it from the
    database within a few milliseconds; this closes that gap for changes made here)."""
    state = WriterState.open_existing(folder)
    if state is not None:
        try:
            state.raise_changes(value)
        finally:
            state.close()


# --- the workers' side ---------------------------------------------------------------------------------------------

class _ThreadFile:
    __slots__ = ("map", "path", "offset", "pid")

    def __init__(self, mapping: mmap.mmap, path: Path, pid: int) -> None:
        self.map, self.path, self.offset, self.pid = mapping, path, 0, pid


class JournalAppender:
    """A worker's journals: one file per thread, so appends need no lock and never interleave."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._local = threading.local()

    def append(self, body: bytes) -> None:
        """Append one entry; when this returns, the entry is in the file (the kernel's page cache) and will be
        written to the database even if this process dies next. Raises OSError when a new file is needed and
        cannot be made (a full disk): nothing of the entry is written then."""
        size = FRAME.size + len(body)
        if size > FILE_BYTES:
            raise OSError(f"a {len(body)}-byte entry does not fit in a journal")
        current: _ThreadFile | None = getattr(self._local, "file", None)
        if current is None or current.pid != os.getpid() or current.offset + size > FILE_BYTES:
            if current is not None and current.pid == os.getpid():
                self._finish(current)
            current = self._open()
        start = current.offset
        mapping = current.map
        mapping[start + FRAME.size:start + size] = body  # the body first: a header found means a whole frame
        mapping[start:start + FRAME.size] = FRAME.pack(len(body), zlib.crc32(body))
        current.offset = start + size

    def _open(self) -> _ThreadFile:
        self._local.file = None
        make_folder(self.folder)
        path = self.folder / f"{os.getpid()}-{uuid.uuid4().hex}{OPEN_SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.posix_fallocate(fd, 0, FILE_BYTES)  # the blocks now: a full disk must not fault a copy later
            mapping = mmap.mmap(fd, FILE_BYTES)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)
        self._local.file = _ThreadFile(mapping, path, os.getpid())
        return self._local.file

    def _finish(self, current: _ThreadFile) -> None:
        """Done with this file: the writer deletes it once written; the next append starts another."""
        self._local.file = None
        try:
            current.map.close()
            os.rename(current.path, current.path.with_suffix(DONE_SUFFIX))
        except (OSError, ValueError) as error:
            log.warning("could not close journal %s: %s", current.path.name, error)


# --- the writer's side ---------------------------------------------------------------------------------------------

@dataclass
class Entry:
    """One report read from a journal: its body, and the positions before and after it."""

    journal: str  # the key its position is saved under
    start: int
    end: int
    body: bytes


class _Journal:
    __slots__ = ("key", "path", "fd", "map", "pid", "read", "committed", "damaged")

    def __init__(self, key: str, path: Path, fd: int, pid: int, committed: int) -> None:
        self.key, self.path, self.fd, self.pid = key, path, fd, pid
        self.map: mmap.mmap | None = None
        self.read = committed  # entries before this are in the batch being made or written
        self.committed = committed  # entries before this are in the database
        self.damaged = False

    def close(self) -> None:
        if self.map is not None:
            self.map.close()
            self.map = None
        try:
            os.close(self.fd)
        except OSError:
            pass

    def done(self) -> bool:
        """No one will append to it any more."""
        if self.path.suffix == DONE_SUFFIX or not self.path.exists() and self.path.with_suffix(DONE_SUFFIX).exists():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # a process of another user has that pid now: ours is gone
            return True
        return False


class JournalReader:
    """The writer's view of a journal folder: what is new in each file, and what can be deleted."""

    LIST_SECONDS = 0.05  # how often the folder is listed for new files

    def __init__(self, folder: Path, positions: dict[str, int]) -> None:
        self.folder = folder
        self.host = host_name()
        self._journals: dict[str, _Journal] = {}
        self._positions = positions  # saved positions not yet matched to a file
        self._listed_at = 0.0
        self._finished_at = 0.0
        self.caught_up = False

    def key(self, stem: str) -> str:
        return f"{self.host}:{stem}"

    def stale_positions(self) -> list[str]:
        """Saved positions of this machine's journals that no longer exist (deleted after being written in
        full): their rows can go."""
        self._list(force=True)
        prefix = f"{self.host}:"
        return [key for key in self._positions if key.startswith(prefix)]

    def _list(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._listed_at < self.LIST_SECONDS:
            return
        self._listed_at = now
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return
        for name in names:
            stem, dot, suffix = name.partition(".")
            if f".{suffix}" not in (OPEN_SUFFIX, DONE_SUFFIX) or not dot:
                continue
            key = self.key(stem)
            journal = self._journals.get(key)
            path = self.folder / name
            if journal is not None:
                journal.path = path  # renamed .closed meanwhile
                continue
            try:
                pid = int(stem.split("-", 1)[0])
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except (ValueError, OSError):
                continue
            self._journals[key] = _Journal(key, path, fd, pid, self._positions.pop(key, 0))

    def read(self, limit: int, everything: bool = False) -> list[Entry]:
        """Up to `limit` entries not yet read, file by file, in each file's order. Sets `caught_up` when every
        journal was read to its end. With `everything`, files made since the last listing are read too (a sync
        must see every entry appended before it was asked)."""
        self._list(force=everything)
        entries: list[Entry] = []
        caught_up = True
        for journal in self._journals.values():
            if len(entries) >= limit:
                caught_up = False
                break
            if not journal.damaged and not self._read_file(journal, entries, limit):
                caught_up = False
        self.caught_up = caught_up
        return entries

    def _read_file(self, journal: _Journal, entries: list[Entry], limit: int) -> bool:
        """Read `journal`'s new entries into `entries`, up to `limit` in all; True when it was read to its end.

        The file is mapped, not read: most looks find nothing new, and a read() of the zeros after the last frame
        cost more than the writing (measured: a fifth of the writer's CPU in system time)."""
        mapping = journal.map
        if mapping is None:
            try:
                size = os.fstat(journal.fd).st_size
                if size < FILE_BYTES and not journal.done():
                    return True  # still being made
                if size == 0:
                    return True
                mapping = journal.map = mmap.mmap(journal.fd, size, prot=mmap.PROT_READ)
            except (OSError, ValueError) as error:
                log.warning("cannot read journal %s: %s", journal.path.name, error)
                return True
        header = FRAME.size
        size = len(mapping)
        while len(entries) < limit:
            at = journal.read
            if at + header > size:
                return True
            length, crc = FRAME.unpack_from(mapping, at)
            if length == 0:
                return True  # the zeros after the last frame
            if at + header + length > size:
                if journal.done():
                    self._damaged(journal, "a frame longer than the file")
                return True
            body = mapping[at + header:at + header + length]
            if zlib.crc32(body) != crc:
                return True  # still being copied (or, in a done file, a copy its process died in)
            journal.read = at + header + length
            entries.append(Entry(journal.key, at, journal.read, body))
        return False

    def hold(self, entry: Entry) -> None:
        """Read no more of `entry`'s journal in this process (from `entry` on, it is not ours to read)."""
        journal = self._journals.get(entry.journal)
        if journal is not None:
            journal.read = entry.start
            journal.damaged = True

    def _damaged(self, journal: _Journal, why: str) -> None:
        """Stop reading a journal that is not what we wrote. It is kept, renamed, for a person to look at."""
        journal.damaged = True
        log.error("journal %s is damaged at byte %d (%s): its later entries are not written; the file is kept "
                  "as %s.damaged", journal.path.name, journal.read, why, journal.path.name)
        try:
            os.rename(journal.path, journal.path.with_name(journal.path.name + ".damaged"))
        except OSError:
            pass

    def committed(self, positions: dict[str, int]) -> None:
        """These positions are now saved in the database."""
        for key, position in positions.items():
            journal = self._journals.get(key)
            if journal is not None:
                journal.committed = max(journal.committed, position)

    def rewind(self) -> None:
        """A write failed: read again from the saved positions (what was read since is not in the database)."""
        for journal in self._journals.values():
            journal.read = journal.committed

    def pending(self) -> bool:
        """Is anything appended that is not in the database yet?"""
        return any(self._has_more(j) for j in self._journals.values() if not j.damaged)

    FINISHED_SECONDS = 1.0  # how often journals are checked for being done (a few system calls each)

    def finished(self, force: bool = False) -> list[str]:
        """Forget and delete the journals that are done and written in full; their keys, whose saved positions
        can go now (the file goes first: a position without its file is harmless, a file without its position
        would be written again). Looks at most once a second."""
        now = time.monotonic()
        if not force and now - self._finished_at < self.FINISHED_SECONDS:
            return []
        self._finished_at = now
        gone = []
        for key, journal in list(self._journals.items()):
            if journal.damaged or journal.read != journal.committed or not journal.done():
                continue
            if self._has_more(journal):
                continue  # read it first
            try:
                os.unlink(journal.path)
            except FileNotFoundError:
                pass
            except OSError as error:
                log.warning("could not delete journal %s: %s", journal.path.name, error)
                continue
            journal.close()
            del self._journals[key]
            gone.append(key)
        return gone

    def _has_more(self, journal: _Journal) -> bool:
        """Does `journal` hold entries beyond those read? (Read again, then forgotten.)"""
        entries: list[Entry] = []
        before = journal.read
        self._read_file(journal, entries, 1)
        journal.read = before
        return bool(entries)

    def close(self) -> None:
        for journal in self._journals.values():
            journal.close()
        self._journals.clear()


def claim_folder(folder: Path, database: int) -> None:
    """Make `folder` this database's: journals left by another database under the same URL (dropped and made
    again, restored from a backup) are moved aside, kept for a person, never written into this one."""
    marker = folder / DATABASE_FILE
    try:
        found = int(marker.read_text().strip())
    except (OSError, ValueError):
        found = None
    if found == database:
        return
    names = [n for n in os.listdir(folder) if n.endswith((OPEN_SUFFIX, DONE_SUFFIX))]
    if names and found is not None:
        aside = folder / f"other-database-{found:x}"
        make_folder(aside)
        for name in names:
            os.rename(folder / name, aside / name)
        log.warning("%d journal(s) of another database (id %x) moved to %s, not written", len(names), found, aside)
    temporary = folder / (DATABASE_FILE + ".new")
    temporary.write_text(f"{database}\n")
    os.replace(temporary, marker)
