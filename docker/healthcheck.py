#!/usr/bin/env python3
"""Health check of the agent server: its bridge port accepts a TCP connection.

A bare connect-and-close, no ZeroMQ or protocol message: ZeroMQ drops the half-open peer
silently, so running episodes are not disturbed. Exit 0 healthy, 1 not.

    xrmarl-healthcheck [HOST] [PORT]      (defaults 127.0.0.1 and $AGENT_PORT or 5555)
"""
import os
import socket
import sys

if any(a in ("-h", "--help") for a in sys.argv[1:]):
    print(__doc__.strip())
    sys.exit(0)
host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
port = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("AGENT_PORT", "5555"))
try:
    socket.create_connection((host, port), timeout=3).close()
except OSError as exc:
    print(f"agent server not accepting on {host}:{port}: {exc}", file=sys.stderr)
    sys.exit(1)
print(f"agent server accepting on {host}:{port}")
