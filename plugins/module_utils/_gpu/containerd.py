# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan the NVIDIA runtime for containerd without clobbering a config another tool manages.

What containerd does with ``imports`` decides the plan:

- containerd 1.x (config ``version = 2``): an imported file *replaces* each plugin section it names as a
  whole (containerd/containerd#5837). A drop-in holding only ``runtimes.nvidia`` would wipe the CRI settings
  of config.toml (SystemdCgroup, sandbox_image, registry...). So the drop-in carries the effective CRI plugin
  section of the files before it, plus the nvidia runtime - what nvidia-ctk also does since
  NVIDIA/nvidia-container-toolkit#1311.
- containerd 2.x (config ``version = 3``): imported plugin sections are merged key by key
  (containerd/containerd#9982), so the drop-in holds only what it adds, under ``io.containerd.cri.v1.runtime``.

In both cases config.toml is edited at most by adding the drop-in directory to ``imports``; when it does
not exist it is created with only ``version`` and ``imports``.
"""

from __future__ import annotations

import copy
import fnmatch
import glob
import os
import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._merge import deep_merge

try:  # Python 3.11+
    import tomllib as _toml_reader
except ImportError:  # pragma: no cover - depends on the node's Python
    try:
        import tomli as _toml_reader
    except ImportError:
        _toml_reader = None

CRI_V2 = "io.containerd.grpc.v1.cri"
CRI_V3 = "io.containerd.cri.v1.runtime"

HEADER = ("# Managed by Ansible (llmops.vllm_serving.nvidia_containerd_config): NVIDIA runtime for containerd.\n"
          "# Edit the role variables, not this file.\n")


def loads(text, where="TOML"):
    if _toml_reader is None:
        raise LlmopsError("reading %s needs a TOML parser: Python >= 3.11 on the node, or the tomli package "
                          "(apt install python3-tomli / dnf install python3-tomli)" % where)
    try:
        return _toml_reader.loads(text or "")
    except Exception as exc:  # tomllib.TOMLDecodeError, tomli.TOMLDecodeError
        raise LlmopsError("%s is not valid TOML: %s; fix the file or move it away" % (where, exc)) from None


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k):
    return k if _BARE.match(k) else '"%s"' % k.replace("\\", "\\\\").replace('"', '\\"')


def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (_key(k), _value(x)) for k, x in v.items()) + "}"
    raise LlmopsError("cannot write %r (%s) as TOML" % (v, type(v).__name__))


def dumps(data):
    """Deterministic TOML writer for containerd configs (tables, scalars, arrays, inline tables in arrays)."""
    out = []

    def scalars(table):
        return [(k, v) for k, v in table.items() if not isinstance(v, dict)]

    def emit(table, path):
        plain = scalars(table)
        subs = [(k, v) for k, v in table.items() if isinstance(v, dict)]
        if path and (plain or not subs):
            out.append("")
            out.append("[%s]" % ".".join(_key(p) for p in path))
        for k, v in plain:
            out.append("%s = %s" % (_key(k), _value(v)))
        for k, v in subs:
            emit(v, path + [k])

    emit(data, [])
    return "\n".join(out).lstrip("\n") + "\n"


def major_version(version):
    m = re.match(r"^v?(\d+)\.(\d+)", str(version or "").strip())
    if not m:
        raise LlmopsError("containerd_version=%r is not a version; expected e.g. '1.6.20' or '2.1.4'" % (version,))
    major, minor = int(m.group(1)), int(m.group(2))
    if major not in (1, 2):
        raise LlmopsError("containerd %s is not supported; supported: 1.6, 1.7 (config version 2) and 2.x (config version 3)" % version)
    return major, minor


def import_files(imports, main_path, exclude=None):
    """Expand containerd's ``imports`` in containerd's order: list order, each glob sorted; relative paths are
    relative to config.toml's directory."""
    files = []
    for pattern in imports or []:
        if not os.path.isabs(pattern):
            pattern = os.path.join(os.path.dirname(main_path), pattern)
        for path in sorted(glob.glob(pattern)):
            if path != exclude and path not in files:
                files.append(path)
    return files


def _runtimes(cfg, plugin):
    return cfg.get("plugins", {}).get(plugin, {}).get("containerd", {}).get("runtimes", {})


def _add_imports_line(text, pattern, version):
    """Add ``pattern`` to the top-level ``imports`` of config.toml, touching nothing else."""
    lines = text.splitlines()
    first_table = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")), len(lines))
    for i in range(first_table):
        m = re.match(r"^(\s*imports\s*=\s*)\[(.*)\]\s*(#.*)?$", lines[i])
        if m:
            inner = m.group(2).strip().rstrip(",")
            lines[i] = "%s[%s%s]" % (m.group(1), inner + ", " if inner else "", _value(pattern))
            return "\n".join(lines) + "\n"
        if re.match(r"^\s*imports\s*=", lines[i]):
            raise LlmopsError("imports in config.toml spans several lines; add %r to it by hand or put it on one line" % pattern)
    insert_at = next((i + 1 for i in range(first_table) if re.match(r"^\s*version\s*=", lines[i])), None)
    if insert_at is None:
        lines.insert(0, "version = %d" % version)
        insert_at = 1
    lines.insert(insert_at, "imports = [%s]" % _value(pattern))
    return "\n".join(lines) + "\n"


def plan(containerd_version, main_path, main_text, drop_in_path, drop_in_text, read_file,
         runtime_name="nvidia", runtime_binary="/usr/bin/nvidia-container-runtime", set_as_default=False,
         enable_cdi=True, manage_imports=True, state="present", other_files=None):
    """Decide the new content of config.toml and of the drop-in.

    ``read_file(path) -> str`` reads the files named by imports; ``other_files`` (list of paths) overrides the
    import expansion (tests). Returns {main_text, drop_in_text (None = absent), config_version, plugin, actions}.
    """
    major, minor = major_version(containerd_version)
    cfg_version = 2 if major == 1 else 3
    plugin = CRI_V2 if major == 1 else CRI_V3
    if not re.match(r"^[A-Za-z0-9_.-]+$", runtime_name or ""):
        raise LlmopsError("runtime_name=%r must be letters, digits, '.', '_' or '-' (it becomes a TOML key and a RuntimeClass handler)"
                          % (runtime_name,))
    actions = []
    main = loads(main_text, main_path) if main_text else {}
    main_ver = main.get("version", 1 if main_text and main.get("plugins") else cfg_version)
    if major == 1 and main_ver != 2:
        raise LlmopsError("%s has config version %s; containerd %s needs version = 2 here (version 1 names plugins differently). "
                          "Convert it (containerd config default shows the version 2 layout) and rerun" % (main_path, main_ver, containerd_version))
    if major == 2 and main_ver not in (2, 3):
        raise LlmopsError("%s has config version %s; containerd %s reads versions 2 and 3" % (main_path, main_ver, containerd_version))

    drop_dir = os.path.dirname(drop_in_path)
    pattern = os.path.join(drop_dir, "*.toml")
    imports = list(main.get("imports", []) or [])
    covered = any(fnmatch.fnmatch(drop_in_path, p if os.path.isabs(p) else os.path.join(os.path.dirname(main_path), p))
                  for p in imports)
    new_main = main_text
    if state == "present" and not covered:
        if not manage_imports:
            raise LlmopsError("%s does not import %s, so containerd would never read %s; set manage_imports=true (adds it to "
                              "imports) or add %r to imports yourself" % (main_path, pattern, drop_in_path, pattern))
        if main_text is None:
            new_main = "version = %d\nimports = [%s]\n" % (cfg_version, _value(pattern))
            actions.append("created %s with only version = %d and imports = [%s]" % (main_path, cfg_version, pattern))
        else:
            new_main = _add_imports_line(main_text, pattern, cfg_version)
            actions.append("added %s to imports of %s (nothing else in it changed)" % (pattern, main_path))
        imports.append(pattern)

    if state == "absent":
        if drop_in_text is not None:
            actions.append("removed %s" % drop_in_path)
        return {"main_text": main_text, "drop_in_text": None, "config_version": cfg_version, "plugin": plugin, "actions": actions}

    others = other_files if other_files is not None else import_files(imports, main_path, exclude=drop_in_path)
    layers = [(main_path, main)] + [(p, loads(read_file(p), p)) for p in others]
    if major == 1:
        # replace-per-plugin semantics: the effective CRI section is the last one before our file
        names = sorted(list(others) + [drop_in_path])
        ours = names.index(drop_in_path)
        effective, source = {}, None
        for path, cfg in layers:
            if plugin in cfg.get("plugins", {}):
                if path == main_path or names.index(path) < ours:
                    effective, source = cfg["plugins"][plugin], path
                else:
                    actions.append("WARNING: %s sorts after %s and also sets plugins.%s; containerd 1.x would let it replace "
                                   "the NVIDIA runtime. Rename one of them." % (path, drop_in_path, _key(plugin)))
        section = copy.deepcopy(effective)
        if source:
            actions.append("copied plugins.%s from %s into the drop-in: containerd 1.x replaces a whole plugin section "
                           "on import (containerd#5837)" % (_key(plugin), source))
        runc_source = section
    else:
        merged = {}
        for layer in layers:
            merged = deep_merge(merged, layer[1])
        runc_source = merged.get("plugins", {}).get(plugin, {})
        section = {}
    runc = copy.deepcopy(runc_source.get("containerd", {}).get("runtimes", {}).get("runc", {}))
    entry = runc if runc else {"runtime_type": "io.containerd.runc.v2"}
    entry.setdefault("runtime_type", "io.containerd.runc.v2")
    entry.setdefault("options", {})
    entry["options"]["BinaryName"] = runtime_binary
    if runc:
        actions.append("runtime %s copies the runc runtime's settings (e.g. SystemdCgroup) with BinaryName = %s" % (runtime_name, runtime_binary))
    runtimes = section.setdefault("containerd", {}).setdefault("runtimes", {})
    if not runc and major == 1:
        # containerd 1.x decodes the runtimes table as a whole: one that names only nvidia drops the built-in runc
        # runtime (seen with `containerd config dump` of Debian trixie's containerd 1.7.24 and its stock config.toml).
        # containerd 2.x merges it key by key and keeps runc (seen with 2.1.4), so its drop-in does not need this.
        runtimes["runc"] = {"runtime_type": "io.containerd.runc.v2"}
        actions.append("declared containerd's default runc runtime explicitly: a runtimes table that names only %s "
                       "would drop it" % runtime_name)
    runtimes[runtime_name] = entry
    if set_as_default:
        section["containerd"]["default_runtime_name"] = runtime_name
        actions.append("made %s the default runtime" % runtime_name)
    if enable_cdi:
        if (major, minor) >= (1, 7):
            section["enable_cdi"] = True
            section.setdefault("cdi_spec_dirs", ["/etc/cdi", "/var/run/cdi"])
        else:
            actions.append("CDI not enabled: containerd %s has no CDI support (needs 1.7+); the nvidia runtime still injects GPUs"
                           % containerd_version)
    drop = {"version": cfg_version, "plugins": {plugin: section}}
    return {"main_text": new_main, "drop_in_text": HEADER + dumps(drop), "config_version": cfg_version, "plugin": plugin,
            "actions": actions}
