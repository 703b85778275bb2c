"""Ask a DNS server for NAME's A records over UDP and exit 0 when EXPECTED is among them (the bed's check that
kube-dns answers through its Service address).

usage: dns_query.py SERVER NAME [EXPECTED]
"""

import random
import socket
import struct
import sys


def skip_name(data, pos):
    """The offset after the (possibly compressed) domain name at pos."""
    while data[pos]:
        if data[pos] & 0xC0 == 0xC0:  # a pointer ends the name
            return pos + 2
        pos += data[pos] + 1
    return pos + 1


def query(server, name, timeout=2.0):
    qid = random.randrange(1 << 16)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, 53))
        data, _peer = sock.recvfrom(4096)
    rid, flags, qd, an = struct.unpack(">HHHH", data[:8])
    if rid != qid:
        raise SystemExit(f"{server}: answer for another query")
    if flags & 0xF:
        raise SystemExit(f"{server}: {name}: rcode {flags & 0xF}")
    pos = 12
    for _question in range(qd):  # skip the question: name, type, class
        pos = skip_name(data, pos) + 4
    addresses = []
    for _answer in range(an):
        pos = skip_name(data, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            addresses.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += rdlen
    return addresses


def main(argv):
    server, name = argv[0], argv[1]
    try:
        addresses = query(server, name)
    except OSError as exc:
        raise SystemExit(f"{server}: {name}: {exc}") from exc
    print(" ".join(addresses))
    if len(argv) > 2 and argv[2] not in addresses:
        raise SystemExit(f"{server}: {name} -> {addresses}, expected {argv[2]}")


if __name__ == "__main__":
    main(sys.argv[1:])
