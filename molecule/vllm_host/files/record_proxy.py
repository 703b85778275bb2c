"""A transparent Unix-socket proxy in front of a Docker Engine API that records what clients ask it to create.

usage: record_proxy.py LISTEN_SOCKET UPSTREAM_SOCKET LOG_JSONL
Bytes pass through unchanged both ways; the JSON body of every POST .../containers/create is appended to LOG_JSONL
as {"path": ..., "body": ...}. The vllm_host scenario puts it in front of podman to see the device requests the role
sends, which podman's compat API accepts and drops (there is no GPU here).
"""

import asyncio
import json
import os
import sys

LISTEN, UPSTREAM, LOG = sys.argv[1:4]


async def server_to_client(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def client_to_server(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            headers = dict((k.strip().lower(), v.strip()) for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln))
            if headers.get("transfer-encoding", "").lower() == "chunked":
                writer.write(head)
                while True:
                    data = await reader.read(65536)
                    if not data:
                        return
                    writer.write(data)
                    await writer.drain()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "POST" and path.split("?", 1)[0].endswith("/containers/create"):
                with open(LOG, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"path": path, "body": json.loads(body or b"{}")}) + "\n")
            writer.write(head + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    upstream_reader, upstream_writer = await asyncio.open_unix_connection(UPSTREAM)
    await asyncio.gather(client_to_server(client_reader, upstream_writer), server_to_client(upstream_reader, client_writer))


async def main():
    if os.path.exists(LISTEN):
        os.unlink(LISTEN)
    server = await asyncio.start_unix_server(handle, path=LISTEN)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
