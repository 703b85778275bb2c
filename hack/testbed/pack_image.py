"""Pack files into a docker-archive tarball (one layer) that `ctr images import` reads: no registry, no daemon.

usage: pack_image.py OUT.tar NAME:TAG ENTRYPOINT_JSON [--user=U] [--workdir=D] [--dir=D] [--cap=DEST=CAP]
                     DEST=SRC ... DEST@=TARGET ...
A DEST=SRC copies the file SRC to DEST in the image; DEST@=TARGET makes DEST a symlink to TARGET; --dir=D makes
an empty directory D (mode 1777); --user and --workdir set the image's User and WorkingDir as upstream's Dockerfile does;
--cap=DEST=cap_net_bind_service gives the file DEST that capability (+ep), as `setcap cap_net_bind_service=+ep DEST`
does in upstream's Dockerfile (a security.capability xattr in the layer, which containerd applies on import).
"""

import hashlib
import io
import json
import os
import sys
import struct
import tarfile

CAPS = {"cap_net_bind_service": 10}  # linux/capability.h


def file_caps(names):
    """The security.capability xattr of `setcap NAMES=+ep`: vfs_cap_data revision 2, effective flag set."""
    permitted = 0
    for name in names:
        if name not in CAPS:
            raise SystemExit(f"pack_image.py: unknown capability {name!r}; known: {', '.join(sorted(CAPS))}")
        permitted |= 1 << CAPS[name]
    raw = struct.pack("<IIIII", 0x02000000 | 0x1, permitted & 0xFFFFFFFF, 0, permitted >> 32, 0)
    return raw.decode("utf-8", "surrogateescape")


def layer(entries, open_dirs=(), caps=None):
    caps = caps or {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        open_dirs = {d.strip("/") for d in open_dirs} | {"tmp"}
        dirs = set(open_dirs)
        for dest, _kind, _src in entries:
            parts = dest.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d in open_dirs else 0o755
            tar.addfile(info)
        for dest, kind, src in entries:
            info = tarfile.TarInfo(dest.strip("/"))
            if kind == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = src
                tar.addfile(info)
                continue
            with open(src, "rb") as fh:
                data = fh.read()
            info.size = len(data)
            info.mode = 0o755
            if dest.strip("/") in caps:
                info.pax_headers = {"SCHILY.xattr.security.capability": file_caps(caps[dest.strip("/")])}
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main(argv):
    out, ref, entrypoint = argv[0], argv[1], json.loads(argv[2])
    entries, opts, open_dirs, caps = [], {"user": "", "workdir": "/"}, [], {}
    for spec in argv[3:]:
        if spec.startswith("--dir="):
            open_dirs.append(spec[len("--dir="):])
        elif spec.startswith("--cap="):
            dest, cap = spec[len("--cap="):].split("=", 1)
            caps.setdefault(dest.strip("/"), []).append(cap)
        elif spec.startswith("--") and spec[2:].split("=", 1)[0] in opts:
            key, value = spec[2:].split("=", 1)
            opts[key] = value
        elif "@=" in spec:
            dest, target = spec.split("@=", 1)
            entries.append((dest, "link", target))
        else:
            dest, src = spec.split("=", 1)
            entries.append((dest, "file", src))
    missing = set(caps) - {dest.strip("/") for dest, kind, _src in entries if kind == "file"}
    if missing:
        raise SystemExit(f"pack_image.py: --cap for {sorted(missing)}, which no DEST=SRC puts in the image")
    blob = layer(entries, open_dirs, caps)
    diff_id = "sha256:" + hashlib.sha256(blob).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Entrypoint": entrypoint or None,
            "WorkingDir": opts["workdir"],
            "User": opts["user"],
            "Labels": {"io.llmops.testbed": "built locally by hack/testbed/images.sh"},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "hack/testbed/pack_image.py"}],
    }
    config_raw = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_raw).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": ["layer.tar"]}]
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as tar:
        for name, data in (("layer.tar", blob), (config_name, config_raw), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)


if __name__ == "__main__":
    main(sys.argv[1:])
