# Sourced by the check scripts: a loopback port nothing listens on or connects from, as the kernel
# hands it out (a random pick in a fixed range can meet a live connection's local port).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts connections on a loopback port (at most ten seconds); given a process
# id as well, until that process listens on it, failing at once if it exits (it could not bind).
wait_for_port() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/wait_for_port.py" "$@"
}
