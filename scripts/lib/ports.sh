# Sourced by the check scripts: a loopback port nothing listens on or connects from, as the kernel
# hands it out (a random pick in a fixed range can meet a live connection's local port).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts connections on a loopback port (at most ten seconds).
wait_for_port() {
  for _ in $(seq 1 100); do
    python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}
