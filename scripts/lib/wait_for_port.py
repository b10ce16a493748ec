"""Waits (at most ten seconds) until a loopback port accepts connections; given a process id, until that
process listens on it. Exits non-zero, with one line, when the time is up or the process has exited:
a server that could not bind its port (another program took it between free_port and its start) must
not pass for the program that holds it."""

import os
import socket
import sys
import time


def listening_inodes(port):
    """The socket inodes listening on `port` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def listens(pid, port):
    inodes = listening_inodes(port)
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def main():
    if len(sys.argv) not in (2, 3) or not all(a.isdigit() for a in sys.argv[1:]):
        sys.exit("usage: wait_for_port PORT [PID]")
    port = int(sys.argv[1])
    pid = int(sys.argv[2]) if len(sys.argv) > 2 else None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pid is not None and not alive(pid):
            sys.exit(f"process {pid} exited before it listened on port {port}")
        if accepts(port) and (pid is None or listens(pid, port)):
            return
        time.sleep(0.1)
    if pid is None:
        sys.exit(f"nothing listens on port {port} after ten seconds")
    sys.exit(f"process {pid} does not listen on port {port} after ten seconds")


main()
