"""TCP forwarding from addresses inside the node's network namespace to host loopback.

The test bed's API server and ACM emulator listen on 127.0.0.1 of the host; the node (kubelet,
containerd, Pods) lives in a network namespace of its own with no route out. This program,
started in the host namespace, opens its listening sockets inside the node's namespace
(``setns`` on one thread, and back) and connects out from the host's: Pods reach the host's
services at node-local addresses and the host's network is never configured (no veth, no
address, no firewall rule).

    python -m acm_sync_testbed.realcluster.netforward --netns /proc/PID/ns/net \\
        10.96.0.1:443=127.0.0.1:6443 ...

A rule may name several targets (``LISTEN=T1,T2``): connections take them in turn, and one
that refuses is skipped, as a Service spreads connections over its endpoints. Started inside
the node's namespace (``nsenter --net``), it connects out from there: ``services.py`` routes a
Service's ClusterIP to its Pods that way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import socket
import sys

_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def listen_in(netns: str, addresses: list[tuple[str, int]]) -> list[socket.socket]:
    """Listening sockets bound inside network namespace ``netns`` (a /proc/PID/ns/net path).

    A socket belongs to the namespace it was created in, whatever the thread's namespace later:
    enter, create, and return to the host's before anything else happens on this thread.
    """
    host_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    node_fd = os.open(netns, os.O_RDONLY)
    sockets: list[socket.socket] = []
    try:
        _setns(node_fd)
        try:
            for host, port in addresses:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(64)
                sock.setblocking(False)
                sockets.append(sock)
        finally:
            _setns(host_fd)
    finally:
        os.close(host_fd)
        os.close(node_fd)
    return sockets


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


def _handler(targets: list[tuple[str, int]]) -> object:
    turn = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal turn
        first, turn = turn, turn + 1
        for i in range(len(targets)):
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    *targets[(first + i) % len(targets)]
                )
                break
            except OSError:
                continue
        else:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return handle


async def _serve(pairs: list[tuple[socket.socket, list[tuple[str, int]]]]) -> None:
    servers = [
        await asyncio.start_server(_handler(target), sock=sock)  # type: ignore[arg-type]
        for sock, target in pairs
    ]
    print("forwarding", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netforward", description=__doc__)
    parser.add_argument("--netns", required=True, help="/proc/PID/ns/net of the node")
    parser.add_argument("rules", nargs="+", help="LISTEN_IP:PORT=TARGET_IP:PORT[,...]")
    args = parser.parse_args(argv)
    rules = [rule.split("=", 1) for rule in args.rules]
    sockets = listen_in(args.netns, [_split(listen) for listen, _ in rules])
    pairs = [
        (sock, [_split(t) for t in targets.split(",")])
        for sock, (_, targets) in zip(sockets, rules, strict=True)
    ]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
