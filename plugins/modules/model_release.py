#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: model_release
short_description: Stage model files as timestamped hard-link releases with an atomic switch, verification and rollback
version_added: 0.1.0
description:
  - Keeps one model under O(root)/O(name) as immutable releases C(releases/<UTC timestamp>/) and a relative
    symlink C(current) that is switched atomically (a new symlink renamed over the old one).
  - With O(state=present) the module compares the source with the current release. When something differs it
    builds a new release as a hard-link snapshot of the current one (C(cp -al) semantics, so the cost grows with the number of files, not their bytes),
    writes each added or changed file to a B(new inode) and renames it in (never modifying a file in place, which
    would corrupt every release sharing the inode), removes files the source no longer has, verifies the result
    and only then switches C(current). When nothing differs it changes nothing.
  - Verification before a switch - C(config.json) and a tokenizer present; C(config.json), C(generation_config.json),
    C(tokenizer_config.json), C(tokenizer.json), C(special_tokens_map.json) and C(preprocessor_config.json), where present,
    parsed as JSON objects (a truncated copy is refused, not published); C(model.safetensors.index.json) parsed, its
    C(weight_map) present and every shard it names present; every C(.safetensors) file's header read (8-byte length, JSON
    header) with the header length and every tensor's C(data_offsets) inside the file and the file exactly as long as the
    header requires; the tensors the index names present in their shards; sizes as the source announced; and sha256
    against O(checksums) / O(checksums_file) or the source's own checksums. On any failure C(current) is untouched, the
    staged release is discarded (nothing half-published is left) and the message names the file, what is wrong and
    what would work.
  - An interrupted stage (killed process, full disk, lost mirror) leaves a marker; the next run resumes it (files
    already written are kept, partial files discarded) or discards it when the current release changed meanwhile.
  - The module stops by itself when the run that started it is gone. It records its ancestor processes when it
    starts (under the local connection up to the C(ansible-playbook) controller, over ssh up to the sshd session)
    and checks them while it copies, while it snapshots and right before the switch. Once one has exited or been
    replaced (C(kill -9) of C(ansible-playbook), a dropped ssh session), it stops without switching C(current), keeping
    the partial stage for the next run to resume.
  - With O(state=rollback) C(current) is switched to O(release) (default the release before current) after the
    target passes the same verification.
  - Every release carries C(.llmops-release.json) with the sha256 and size of every file, the source and the pinned
    revision.
author:
  - llmops contributors (@llmops)
extends_documentation_fragment:
  - llmops.vllm_serving._attributes
  - llmops.vllm_serving._attributes.ACTIONGROUP_VLLM_SERVING
attributes:
  check_mode:
    support: full
    details:
      - Lists the files that would be added, changed and removed, the release that would become current and the
        releases retention would delete, without writing anything (not even a lock file).
      - A source without checksums or HTTP validators (C(ETag), C(Last-Modified)) cannot be compared without
        downloading; such files are reported as changed.
  diff_mode:
    support: full
  idempotent:
    support: partial
    details:
      - O(state=present) and O(state=rollback) with a named O(release) are idempotent.
      - O(state=rollback) with O(release=previous) moves one release back on every run, like C(git checkout HEAD~1).
requirements:
  - huggingface_hub (only for O(source.type=huggingface), on the target)
options:
  root:
    description: The store root on the target (a local disk or the export of an NFS volume), for example C(/srv/models).
    type: path
    required: true
  name:
    description:
      - Directory name of the model under O(root); letters, digits, C(.), C(_) and C(-) (no C(/)).
    type: str
    required: true
    aliases: [model]
  state:
    description:
      - V(present) stages O(source) as a new release when it differs from C(current).
      - V(rollback) points C(current) at O(release).
    type: str
    choices: [present, rollback]
    default: present
  source:
    description: Where the files come from. Required with O(state=present).
    type: dict
    suboptions:
      type:
        description:
          - V(path) a directory on the target (local disk or NFS mount), V(http) an HTTP(S) mirror with a file
            list, V(huggingface) a Hugging Face Hub-compatible endpoint through C(huggingface_hub).
        type: str
        choices: [path, http, huggingface]
        required: true
      path:
        description: Absolute directory on the target holding the model (O(source.type=path)).
        type: path
      url:
        description: Base URL of the model directory on the mirror (O(source.type=http)).
        type: str
      files:
        description:
          - Files to fetch from O(source.url), relative to it. Each item is a path string or a dict with C(path)
            and optional C(sha256) and C(size).
        type: list
        elements: raw
      repo_id:
        description: Repository id on the endpoint, for example C(Qwen/Qwen2.5-0.5B-Instruct) (O(source.type=huggingface)).
        type: str
      revision:
        description:
          - For V(huggingface) the branch, tag or commit to fetch (default V(main)); the resolved commit sha is
            recorded and returned as RV(revision).
          - For V(path) and V(http) a label recorded as the release's revision (for example the mirror's snapshot
            date); a new label alone makes a new release.
        type: str
      endpoint:
        description: Hub endpoint (a mirror such as a local Hub proxy); default C(https://huggingface.co) or E(HF_ENDPOINT).
        type: str
      token:
        description: Bearer token for V(http) or V(huggingface). Never logged or returned.
        type: str
      include:
        description: Glob patterns of files to take (V(path), V(huggingface)); default all.
        type: list
        elements: str
      exclude:
        description: Glob patterns of files to skip (V(path), V(huggingface)); C(.git/*) and C(.cache/*) always are.
        type: list
        elements: str
      validate_certs:
        description: Verify the HTTPS certificate of the mirror.
        type: bool
        default: true
      ca_path:
        description: CA bundle for the mirror's certificate.
        type: path
      timeout:
        description: Seconds before an HTTP request gives up.
        type: int
        default: 60
  checksums:
    description: Expected sha256 per file, a dict of relative path to sha256; every listed file must match before the switch.
    type: dict
  checksums_file:
    description: A C(sha256sum)-format manifest on the target (C(<sha256>  <path>) per line); merged into O(checksums).
    type: path
  checksum:
    description:
      - Hash every source file to decide what changed (like C(rsync -c)). By default a V(path) source file whose
        size and mtime equal those recorded is taken as unchanged without reading it.
    type: bool
    default: false
  release:
    description: With O(state=rollback), the release to make current, or V(previous) for the one before current.
    type: str
    default: previous
  keep:
    description:
      - How many of the newest releases to keep after a stage; the release C(current) points to is never deleted.
        V(0) keeps all.
    type: int
    default: 3
  owner:
    description: Owner of the release files (the serving user, for example C(1000) or C(vllm)); unset leaves it.
    type: str
  group:
    description: Group of the release files; unset leaves it.
    type: str
  require_files:
    description: Files every release must contain.
    type: list
    elements: str
    default: [config.json]
  require_tokenizer:
    description: Require one of C(tokenizer.json), C(tokenizer.model), C(tekken.json), C(vocab.json).
    type: bool
    default: true
  verify_checksums:
    description: With O(state=rollback), re-hash every file of the target release against its record first.
    type: bool
    default: false
notes:
  - Release files are made read-only (files C(0444), directories C(0555)); serve them read-only.
  - All releases of a model must live on one filesystem (hard links). Changing O(owner) also changes older
    releases, whose unchanged files share inodes with the new one.
  - The stop-when-the-run-is-gone check reads C(/proc) (Linux); elsewhere only the module's own parent is watched.
    Over ssh the module can only see its sshd session - a controller killed while its ssh connection (or a
    C(ControlPersist) master) stays up is not visible from the node; the session's end is. With C(async), the
    module is meant to outlive the controller and only watches the async wrapper.
seealso:
  - name: docs/model_store.md
    description: Layout, transaction steps, fault handling and the benchmark.
    link: https://github.com/llmops/vllm_serving/blob/main/docs/model_store.md
"""

EXAMPLES = r"""
- name: Stage Llama 3.1 8B from an NFS mount, keeping 3 releases, readable by the vLLM user
  llmops.vllm_serving.model_release:
    root: /srv/models
    name: llama-3.1-8b-instruct
    source:
      type: path
      path: /mnt/nfs/models/meta-llama/Llama-3.1-8B-Instruct
    owner: "1000"
    group: "1000"
    keep: 3
  register: llama_release

- name: Stage from an internal HTTPS mirror, verifying a sha256sum manifest
  llmops.vllm_serving.model_release:
    root: /srv/models
    name: qwen2.5-7b-instruct
    source:
      type: http
      url: https://mirror.example.internal/models/Qwen2.5-7B-Instruct/
      files:
        - config.json
        - generation_config.json
        - tokenizer.json
        - tokenizer_config.json
        - model.safetensors.index.json
        - path: model-00001-of-00004.safetensors
          sha256: 0b7e4a4c5d2f9e8a1c3b6d5e4f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a
          size: 3945441440
      revision: mirror-2026-11-01
    checksums_file: /srv/models/manifests/qwen2.5-7b-instruct.sha256

- name: Stage a pinned revision from a Hugging Face-compatible endpoint
  llmops.vllm_serving.model_release:
    root: /srv/models
    name: qwen2.5-0.5b-instruct
    source:
      type: huggingface
      repo_id: Qwen/Qwen2.5-0.5B-Instruct
      revision: main
      endpoint: https://hf-mirror.example.internal
      token: "{{ vault_hf_token }}"
      exclude: ["*.bin", "*.pth"]

- name: Roll back to the release before current
  llmops.vllm_serving.model_release:
    root: /srv/models
    name: llama-3.1-8b-instruct
    state: rollback

- name: Roll back to a named release (idempotent)
  llmops.vllm_serving.model_release:
    root: /srv/models
    name: llama-3.1-8b-instruct
    state: rollback
    release: 20261129T065300Z
"""

RETURN = r"""
release:
  description: The release C(current) points to after the run (in check mode, the one it would point to).
  returned: success
  type: str
  sample: 20261129T065300Z
previous:
  description: The release C(current) pointed to before the run; V(null) for a first stage.
  returned: success
  type: str
  sample: 20261128T101500Z
path:
  description: Absolute path of RV(release) on the target.
  returned: success
  type: str
  sample: /srv/models/llama-3.1-8b-instruct/releases/20261129T065300Z
current_path:
  description: Absolute path of the C(current) link.
  returned: success
  type: str
  sample: /srv/models/llama-3.1-8b-instruct/current
relative_path:
  description: RV(path) relative to O(root), for a pod that mounts the store root elsewhere.
  returned: success
  type: str
  sample: llama-3.1-8b-instruct/releases/20261129T065300Z
relative_current_path:
  description: RV(current_path) relative to O(root).
  returned: success
  type: str
  sample: llama-3.1-8b-instruct/current
revision:
  description: Pinned revision of RV(release) (the resolved commit for Hugging Face, the label otherwise).
  returned: success
  type: str
  sample: 7ae557604adf67be50417f59c2c2f167def9a775
releases:
  description: All releases after the run, oldest first.
  returned: success
  type: list
  elements: str
  sample: [20261128T101500Z, 20261129T065300Z]
added:
  description: Files in the new release that the previous one did not have.
  returned: success
  type: list
  elements: str
  sample: [chat_template.jinja]
changed_files:
  description: Files whose content differs from the previous release (written to new inodes).
  returned: success
  type: list
  elements: str
  sample: [generation_config.json]
removed:
  description: Files of the previous release that the new one does not have.
  returned: success
  type: list
  elements: str
  sample: []
pruned:
  description: Releases deleted (or, in check mode, that would be deleted) by retention.
  returned: success
  type: list
  elements: str
  sample: [20261101T090000Z]
resumed:
  description: Whether an interrupted stage was resumed.
  returned: success
  type: bool
  sample: false
staging_discarded:
  description: Whether a stale interrupted stage was discarded.
  returned: success
  type: bool
  sample: false
files_fetched:
  description: Files written from the source in this run.
  returned: success
  type: int
  sample: 1
files_linked:
  description: Files hard-linked from the previous release in this run.
  returned: success
  type: int
  sample: 11
permissions_fixed:
  description: Paths of the current release whose owner or mode were corrected.
  returned: success
  type: int
  sample: 0
verification:
  description: What was verified before the switch.
  returned: success
  type: dict
  sample: {json_files_parsed: 4, shards_checked: 4, shards: [model-00001-of-00004.safetensors], checksums_verified: 1, files_hashed: 0, files: 12}
source:
  description: Type and location of the source (never the token).
  returned: success
  type: dict
  sample: {type: path, location: /mnt/nfs/models/meta-llama/Llama-3.1-8B-Instruct}
"""

import grp
import os
import pwd
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.lifeline import Lifeline
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import (
    HttpSource,
    HuggingFaceSource,
    LocalSource,
)
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.verify import (
    normalise_checksums,
    parse_sha256sums,
)

try:
    import huggingface_hub  # noqa: F401  # pylint: disable=unused-import

    HAS_HF = True
    HF_IMPORT_ERROR = None
except ImportError:
    HAS_HF = False
    HF_IMPORT_ERROR = traceback.format_exc()


def _resolve_id(value, kind):
    if value is None:
        return None
    if str(value).isdigit():
        return int(value)
    try:
        return pwd.getpwnam(value).pw_uid if kind == "owner" else grp.getgrnam(value).gr_gid
    except KeyError:
        raise LlmopsError(
            "{}={!r} is not a {} on the target; give a name that exists there or a numeric id (the serving container's uid, e.g. 1000)".format(
                kind, value, "user" if kind == "owner" else "group"
            )
        ) from None


def _source(module, store):
    s = module.params["source"]
    if s["type"] == "path":
        return LocalSource(s["path"], include=s["include"], exclude=s["exclude"], revision=s["revision"])
    if s["type"] == "http":
        return HttpSource(
            s["url"],
            s["files"],
            token=s["token"],
            validate_certs=s["validate_certs"],
            ca_path=s["ca_path"],
            timeout=s["timeout"],
            revision=s["revision"],
        )
    if not HAS_HF:
        module.fail_json(msg=missing_required_lib("huggingface_hub"), exception=HF_IMPORT_ERROR)
    return HuggingFaceSource(
        s["repo_id"],
        revision=s["revision"] or "main",
        endpoint=s["endpoint"],
        token=s["token"],
        include=s["include"],
        exclude=s["exclude"],
        scratch=os.path.join(store.model_dir, ".download"),
    )


def _checksums(module):
    sums = normalise_checksums(module.params["checksums"])
    path = module.params["checksums_file"]
    if path:
        try:
            with open(path) as fh:
                text = fh.read()
        except OSError as err:
            raise LlmopsError(f"checksums_file={path!r} cannot be read: {err}") from err
        for rel, sha in parse_sha256sums(text, origin=path).items():
            if sums.get(rel, sha) != sha:
                raise LlmopsError(f"{rel}: checksums and checksums_file disagree ({sums[rel]} vs {sha})")
            sums[rel] = sha
    return sums or None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            name=dict(type="str", required=True, aliases=["model"]),
            state=dict(type="str", choices=["present", "rollback"], default="present"),
            source=dict(
                type="dict",
                options=dict(
                    type=dict(type="str", choices=["path", "http", "huggingface"], required=True),
                    path=dict(type="path"),
                    url=dict(type="str"),
                    files=dict(type="list", elements="raw"),
                    repo_id=dict(type="str"),
                    revision=dict(type="str"),
                    endpoint=dict(type="str"),
                    token=dict(type="str", no_log=True),
                    include=dict(type="list", elements="str"),
                    exclude=dict(type="list", elements="str"),
                    validate_certs=dict(type="bool", default=True),
                    ca_path=dict(type="path"),
                    timeout=dict(type="int", default=60),
                ),
                required_if=[
                    ("type", "path", ("path",)),
                    ("type", "http", ("url", "files")),
                    ("type", "huggingface", ("repo_id",)),
                ],
            ),
            checksums=dict(type="dict"),
            checksums_file=dict(type="path"),
            checksum=dict(type="bool", default=False),
            release=dict(type="str", default="previous"),
            keep=dict(type="int", default=3),
            owner=dict(type="str"),
            group=dict(type="str"),
            require_files=dict(type="list", elements="str", default=["config.json"]),
            require_tokenizer=dict(type="bool", default=True),
            verify_checksums=dict(type="bool", default=False),
        ),
        required_if=[("state", "present", ("source",))],
        supports_check_mode=True,
    )
    p = module.params
    if p["keep"] < 0:
        module.fail_json(msg="keep={} must be 0 (keep all) or a positive number of releases".format(p["keep"]))
    try:
        store = ModelStore(p["root"], p["name"])
        if not os.path.isdir(p["root"]) and not module.check_mode:
            raise LlmopsError(
                "root={!r} does not exist on the target; create it first (the model_store role does, with the owner and mode for the serving user)".format(
                    p["root"]
                )
            )
        before = store.current()
        if p["state"] == "present":
            result = store.stage(
                _source(module, store),
                checksum=p["checksum"],
                checksums=_checksums(module),
                uid=_resolve_id(p["owner"], "owner"),
                gid=_resolve_id(p["group"], "group"),
                keep=p["keep"],
                check_mode=module.check_mode,
                require_files=p["require_files"],
                require_tokenizer=p["require_tokenizer"],
                # stop (resumably, without switching) when the ansible-playbook that started us is killed
                lifeline=None if module.check_mode else Lifeline.of_this_process(),
            )
        else:
            result = store.rollback(
                p["release"],
                check_mode=module.check_mode,
                rehash=p["verify_checksums"],
                require_files=p["require_files"],
                require_tokenizer=p["require_tokenizer"],
            )
    except LlmopsError as err:
        module.fail_json(msg=str(err))
    if module._diff:
        result["diff"] = {
            "before": {"current": before, "files": sorted(result["removed"] + result["changed_files"])},
            "after": {
                "current": result["release"],
                "files": sorted(result["added"] + result["changed_files"]),
                "pruned_releases": result.get("pruned", []),
            },
            "before_header": os.path.join(store.model_dir, "current"),
            "after_header": os.path.join(store.model_dir, "current"),
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
