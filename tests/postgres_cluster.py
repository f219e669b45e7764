"""A throwaway PostgreSQL cluster on a loopback port, for tests and benchmarks.

`ThrowawayCluster` runs the server binaries of the Debian ``postgresql`` package
(``initdb`` and ``pg_ctl`` under ``/usr/lib/postgresql/<version>/bin``) on a data
directory of its own: started with `start`, stopped with `stop` (``immediate``
stops it as a crash would), removed with `destroy`. PostgreSQL refuses to run as
root, so under root the server runs as the ``postgres`` user the package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from memkv.errors import StoreUnavailable

_BIN_GLOB: Final = "/usr/lib/postgresql/*/bin"
_SERVER_USER: Final = "postgres"
# Settings of a test server: small, quick to start, and logging to its directory.
_CONFIG: Final = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "shared_buffers": "'128MB'",
    "deadlock_timeout": "'200ms'",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


def server_binaries() -> Path | None:
    """The ``bin`` directory of the newest PostgreSQL installed, if any."""
    found = [Path(path) for path in glob.glob(_BIN_GLOB) if (Path(path) / "initdb").exists()]
    return max(found, key=lambda path: int(path.parent.name), default=None)


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary directory; `dsn` connects as superuser
    (over TCP with ``password``, if one is given, else trusted)."""

    def __init__(
        self, *, port: int | None = None, fsync: bool = True, password: str | None = None
    ) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise StoreUnavailable(
                f"no PostgreSQL server installed (no initdb under {_BIN_GLOB}); "
                "install the Debian package postgresql"
            )
        self._bin = binaries
        self.port = port or _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="memkv-pg-"))
        self.data = self.directory / "data"
        self._fsync = fsync
        self._as_root = os.geteuid() == 0
        self.user = _SERVER_USER if self._as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.password = password
        login = self.user if password is None else f"{self.user}:{password}"
        self.dsn = f"postgresql://{login}@127.0.0.1:{self.port}/postgres"
        self._initialised = False

    def _run(self, *command: str) -> None:
        argv = [str(self._bin / command[0]), *command[1:]]
        if self._as_root:
            argv = ["runuser", "-u", _SERVER_USER, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StoreUnavailable(
                f"{command[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout}"
            )

    def start(self) -> ThrowawayCluster:
        """Initialise the cluster (the first time) and start the server; returns once
        it accepts connections."""
        if not self._initialised:
            if self._as_root:
                shutil.chown(self.directory, user=_SERVER_USER)
            auth = ["-A", "trust"]
            if self.password is not None:  # TCP clients must give it; the socket trusts
                password_file = self.directory / "password"
                password_file.write_text(self.password + "\n")
                if self._as_root:
                    shutil.chown(password_file, user=_SERVER_USER)
                auth = ["--auth-host=scram-sha-256", "--auth-local=trust"]
                auth.append(f"--pwfile={password_file}")
            self._run("initdb", "-D", str(self.data), *auth, "-U", self.user, "-E", "UTF8")
            settings = dict(_CONFIG, port=str(self.port), fsync="on" if self._fsync else "off")
            settings["unix_socket_directories"] = f"'{self.directory}'"
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
            self._initialised = True
        log = self.directory / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start")
        return self

    def stop(self, *, immediate: bool = False) -> None:
        """Stop the server: cleanly, or at once as a crash would (``immediate``)."""
        mode = "immediate" if immediate else "fast"
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def pin(self, cpus: set[int]) -> None:
        """Run the server's processes (and the sessions it forks later) on ``cpus``
        only. A benchmark pins the server and itself to different cores: a loopback
        round trip then costs the same every time, where it otherwise depends on
        whether the scheduler put the two ends on one core (here: 25 against 100 µs)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        for process in [postmaster, *_children(postmaster)]:
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(process, cpus)

    def psql(self, statement: str) -> str:
        """Run one SQL statement as superuser; return what psql printed."""
        argv = [
            str(self._bin / "psql"),
            self.dsn,
            "-XAtq",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            statement,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StoreUnavailable(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def destroy(self) -> None:
        """Stop the server if it runs, and remove the cluster's files."""
        with contextlib.suppress(StoreUnavailable):
            self.stop(immediate=True)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> ThrowawayCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.destroy()


def _children(parent: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # the parent pid is the second field after the parenthesised command name
            if int(status.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(status.parent.name))
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
