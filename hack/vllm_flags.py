# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dump the `vllm serve` flags of every supported vLLM release from vLLM's own argument parser.

    python3 hack/vllm_flags.py all [--work /tmp/vllmflags] [--releases 0.10.2,0.33.0 ...]
    python3 hack/vllm_flags.py fetch|dump|generate ...   (the steps of `all`, one at a time)

Steps, per release (RELEASES below):

1. fetch: ``pip download --no-deps --only-binary=:all: vllm==X`` (the wheel; vLLM's sdist cannot even
   give its metadata without torch and a CUDA tool chain), extract only ``vllm/**/*.py`` and the
   METADATA into ``WORK/src/X``, delete the wheel (300-450 MB each).
2. dump: in a throwaway venv (``WORK/venv``: pydantic, typing_extensions, pyyaml, regex, packaging,
   see VENV_PACKAGES) run this file's ``_child`` mode with ``WORK/src/X`` first on sys.path.  It builds
   the ``vllm serve`` parser exactly as the release's CLI does - a FlexibleArgumentParser, its
   subparsers, ``ServeSubcommand().subparser_init()`` (``vllm/entrypoints/cli/serve.py``, 0.8+) or, for
   0.6/0.7 whose ``vllm/scripts.py`` builds it inline in ``main()``, the same three calls that
   ``main()`` makes (``add_parser("serve")``, ``model_tag``, ``--config``, then ``make_arg_parser``) -
   and writes every argparse action of that parser to ``WORK/json/X.json``.  The argparse actions are
   vLLM's own (EngineArgs/AsyncEngineArgs.add_cli_args, the OpenAI frontend's make_arg_parser /
   FrontendArgs, FlexibleArgumentParser, StoreBoolean, EnableDisableAction, BooleanOptionalAction).
   For the newest release it also runs ``vllm serve --help=all`` through that parser
   (``parser.parse_args(["serve", "--help=all"])``) and keeps the text.
3. generate: merge the JSON dumps into ``plugins/module_utils/_vllm/flags_data.py`` (each option string
   once, with the dumped releases it exists in as spans) and copy the help text to
   ``tests/fixtures/vllm_flags/``.

What is stubbed (``_install_stubs``), and why it does not change the flags: every module that is not
installed in the venv is replaced, on import, by an auto-generated stub package (a meta-path finder
placed last, so only modules that cannot be found are stubbed).  In practice: torch (and
torch.distributed/nn/...), triton, transformers, huggingface_hub, tokenizers, numpy, fastapi/starlette/
uvicorn, openai, msgspec, zmq, ray, xgrammar/outlines/llguidance, prometheus_client, the CUDA kernel
packages (flashinfer, vllm._C ...).  They are runtime machinery: the flag *names*, nargs, actions and
Literal choices come from vLLM's config dataclasses and argparse calls.  Choices computed from a
stubbed library (none of the flags this collection checks) would come out as stub reprs; the dump
keeps choices only when every choice is a plain str/int/float.  pydantic is real because vLLM's config
dataclasses are pydantic dataclasses whose fields and docstrings the parser reads.  If vLLM ever builds
a flag from a stubbed library (e.g. a choices list from a torch enum), its *name* is still dumped.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pprint
import shutil
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA_MODULE = os.path.join(ROOT, "plugins", "module_utils", "_vllm", "flags_data.py")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "vllm_flags")

# One dump per minor line (the last patch release of it, except the default 0.33.0), plus the first
# releases of the lines where flags changed in a patch.  lookup: a release that is not dumped uses the
# newest dumped release of its minor line that is not newer than it, else the oldest of that line.
RELEASES = [
    "0.6.0", "0.6.6.post1", "0.7.0", "0.7.3", "0.8.0", "0.8.5.post1", "0.9.0", "0.9.2",
    "0.10.0", "0.10.2", "0.11.0", "0.11.2", "0.12.0", "0.13.0", "0.14.1", "0.15.1", "0.16.0",
    "0.17.1", "0.18.1", "0.19.1", "0.20.2", "0.21.0", "0.22.1", "0.23.0", "0.24.0", "0.25.1",
    "0.26.0", "0.27.1", "0.28.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0", "0.33.0",
]
HELP_RELEASE = "0.33.0"
VENV_PACKAGES = ["pydantic", "typing_extensions", "pyyaml", "regex", "packaging", "msgspec", "cachetools", "cachetools"]


def _run(cmd, **kwargs):
    print("+ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kwargs)


# ---------------------------------------------------------------- fetch
def fetch(release, work):
    src = os.path.join(work, "src", release)
    if os.path.isdir(os.path.join(src, "vllm")):
        return src
    dl = os.path.join(work, "dl")
    os.makedirs(dl, exist_ok=True)
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
          "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312", "--abi", "abi3",
          "--abi", "none"]
         + ["--platform=manylinux_2_%d_x86_64" % glibc for glibc in range(17, 41)]
         + ["--platform=manylinux2014_x86_64", "--platform=manylinux1_x86_64", "--platform=any",
            "-d", dl, "vllm==" + release])
    wheels = [name for name in os.listdir(dl) if name.startswith("vllm-%s-" % release) and name.endswith(".whl")]
    if not wheels:
        raise SystemExit("no wheel of vllm %s downloaded into %s" % (release, dl))
    tmp = src + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(os.path.join(dl, wheels[0])) as whl:
        for name in whl.namelist():
            if (name.startswith("vllm/") and name.endswith(".py")) or name.endswith(".dist-info/METADATA"):
                whl.extract(name, tmp)
    os.rename(tmp, src)
    for name in wheels:
        os.remove(os.path.join(dl, name))
    return src


# ---------------------------------------------------------------- venv
def ensure_venv(work):
    venv = os.path.join(work, "venv")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        _run([sys.executable, "-m", "venv", venv])
        _run([python, "-m", "pip", "install", "-q"] + VENV_PACKAGES)
    return python


# ---------------------------------------------------------------- dump (parent side)
def dump(release, work):
    src = fetch(release, work)
    out_dir = os.path.join(work, "json")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, release + ".json")
    python = ensure_venv(work)
    cmd = ["nice", python, os.path.abspath(__file__), "_child", "--src", src, "--out", out]
    if shutil.which("setarch"):  # no address randomisation: see PYTHONHASHSEED below
        cmd = ["setarch", os.uname().machine, "-R"] + cmd
    if release == HELP_RELEASE:
        cmd += ["--help-out", os.path.join(work, "json", release + ".help-all.txt")]
    env = dict(os.environ, VLLM_TARGET_DEVICE="cpu", VLLM_LOGGING_LEVEL="ERROR", VLLM_CONFIGURE_LOGGING="0",
               VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1", PYTHONDONTWRITEBYTECODE="1", HOME=work,
               # some releases build choices from a set (0.8.5's --guided-decoding-backend: the first
               # Literal of a set of two, whose hash includes id(str)); a fixed hash seed and no address
               # randomisation make the dump the same on every run (vLLM itself varies from run to run)
               PYTHONHASHSEED="0")
    _run(cmd, env=env, cwd=work)
    return out


# ---------------------------------------------------------------- child: stubs
def _install_stubs():
    """A finder, last on sys.meta_path, that turns every module it is asked for into a stub package."""
    import importlib.abc
    import importlib.machinery
    import inspect
    import types

    import abc

    class _StubMeta(abc.ABCMeta):  # ABCMeta: stub bases mix with abc.ABC ones (class X(Base, nn.Module))
        def __getattr__(cls, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            return _stub_class("%s.%s" % (cls.__qualname__, name))

        def __iter__(cls):
            return iter(())

        def register(cls, *args, **kwargs):  # AutoConfig.register(name, cls), not ABCMeta.register
            return args[-1] if args else None

        def __len__(cls):
            return 0

        def __bool__(cls):
            return True

        def __getitem__(cls, key):
            return cls

        def __contains__(cls, item):
            return False

        def __call__(cls, *args, **kwargs):
            # used as a decorator (@torch.compile, @torch.inference_mode()): hand the function back
            if len(args) == 1 and not kwargs and _decorated(args[0]):
                return args[0]
            return type.__call__(cls)

        def __mro_entries__(cls, bases):
            return (cls,)

        def __index__(cls):
            return 1

        def __int__(cls):
            return 1

        def __float__(cls):
            return 1.0

        def __lt__(cls, other):
            return False

        __gt__ = __le__ = __ge__ = __lt__

        def __hash__(cls):
            return id(cls)

        def __eq__(cls, other):
            return cls is other

        def __repr__(cls):
            return "<stub %s>" % cls.__qualname__

        def __or__(cls, other):
            import typing
            return typing.Union[cls, other]

        def __ror__(cls, other):
            import typing
            return typing.Union[other, cls]

    def _decorated(arg):
        return inspect.isfunction(arg) or (inspect.isclass(arg) and not isinstance(arg, _StubMeta))

    def _num(self, *args):
        return 1

    class _Stub(metaclass=_StubMeta):
        def __init__(self, *args, **kwargs):
            pass

        def __init_subclass__(cls, **kwargs):
            pass

        def __getattr__(self, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            return _stub_class("%s.%s" % (type(self).__qualname__, name))()

        def __call__(self, *args, **kwargs):
            if len(args) == 1 and not kwargs and _decorated(args[0]):
                return args[0]
            return type(self)()

        def __iter__(self):
            return iter(())

        def __len__(self):
            return 0

        def __bool__(self):
            return False

        def __getitem__(self, key):
            return type(self)()

        def __enter__(self):
            return self

        def __eq__(self, other):  # stub results compare equal to anything (inferred schemas, iinfo.min)
            return True

        def __hash__(self):
            return 0

        def __exit__(self, *exc):
            return False

        __index__ = __int__ = _num
        __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _num
        __floordiv__ = __truediv__ = __mod__ = __pow__ = __lshift__ = __rshift__ = _num

        def __float__(self):
            return 1.0

        @classmethod
        def __get_pydantic_core_schema__(cls, source_type, handler):
            from pydantic_core import core_schema
            return core_schema.any_schema()

    def _stub_class(qualname):
        name = qualname.rsplit(".", 1)[-1]
        return _StubMeta(name, (_Stub,), {"__qualname__": qualname, "__module__": qualname.rsplit(".", 1)[0]})

    class _StubModule(types.ModuleType):
        def __getattr__(self, name):
            if name == "__version__":
                return "2.14.0" if self.__name__.split(".")[0] == "torch" else "99.0.0"
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            value = _stub_class("%s.%s" % (self.__name__, name))
            setattr(self, name, value)
            return value

    class _Loader(importlib.abc.Loader):
        def create_module(self, spec):
            module = _StubModule(spec.name)
            module.__path__ = []
            module.__file__ = "<stub %s>" % spec.name
            return module

        def exec_module(self, module):
            name = module.__name__
            STUBBED.add(next((f for f in FORCE_STUB if name == f or name.startswith(f + ".")), name.split(".")[0]))

    class _ForceFinder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if any(fullname == name or fullname.startswith(name + ".") for name in FORCE_STUB):
                return importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=True)
            return None

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            root = fullname.split(".")[0]
            if root in NEVER_STUB or root in sys.stdlib_module_names:
                return None
            return importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=True)

    sys.meta_path.insert(0, _ForceFinder())
    sys.meta_path.append(_Finder())

    # importlib.metadata.version("transformers") and the like: a stubbed package has no dist-info; answer
    # the lowest version the release's own METADATA asks for (else 99.0)
    from importlib import metadata
    real_version = metadata.version

    def version(name):
        try:
            return real_version(name)
        except metadata.PackageNotFoundError:
            if name.lower() == "vllm":
                return VLLM_VERSION[0]
            return REQUIRES.get(name.lower().replace("_", "-"), "99.0")

    metadata.version = version


def _read_requires(src):
    import re
    for entry in os.listdir(src):
        if entry.endswith(".dist-info"):
            VLLM_VERSION[0] = entry[len("vllm-"):-len(".dist-info")]
            with open(os.path.join(src, entry, "METADATA")) as handle:
                for line in handle:
                    match = re.match(r"Requires-Dist: ([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*\(?([^;]*)", line)
                    if match:
                        pin = re.search(r"(?:==|>=|~=)\s*([0-9][0-9A-Za-z.]*)", match.group(2))
                        name = match.group(1).lower().replace("_", "-")
                        REQUIRES.setdefault(name, pin.group(1) if pin else "99.0")


def _pin_platform():
    """vLLM picks its platform by probing for libtpu, neuron, habana ... - all of which a stub satisfies;
    pin it to CUDA (the vllm/vllm-openai image's platform), or CPU where that class cannot be loaded."""
    import importlib.util
    # vllm/__init__.py of some releases resolves the platform on import: load the package object
    # first, pin vllm.platforms, then run vllm/__init__.py
    init = os.path.join(SRC[0], "vllm", "__init__.py")
    spec = importlib.util.spec_from_file_location("vllm", init, submodule_search_locations=[os.path.dirname(init)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["vllm"] = package
    from vllm import platforms
    if hasattr(platforms, "resolve_current_platform_cls_qualname"):
        platforms.resolve_current_platform_cls_qualname = lambda: PLATFORM[0]
        try:
            platforms.current_platform  # noqa: B018 - resolves it now
        except Exception:  # noqa: BLE001
            PLATFORM[0] = "vllm.platforms.cpu.CpuPlatform"
            platforms._current_platform = None
            platforms.current_platform  # noqa: B018
    spec.loader.exec_module(package)


STUBBED = set()
SRC = [""]
REQUIRES = {}
VLLM_VERSION = ["0.0.0"]
PLATFORM = ["vllm.platforms.cuda.CudaPlatform"]
# vLLM's own packages that are stubbed although present: they register kernels / build the engine at
# import time (reached from config validators), and define no argument
FORCE_STUB = ("vllm.ir",)
# modules that must be real or absent (vLLM checks for them with try/except ImportError, or they are
# the parser's own machinery)
NEVER_STUB = {"vllm", "pydantic", "pydantic_core", "typing_extensions", "yaml", "regex", "packaging", "msgspec", "cachetools",
              "_typeshed", "annotationlib", "pytest", "IPython", "sitecustomize", "usercustomize"}


# ---------------------------------------------------------------- child: build and walk the parser
def _serve_py():
    path = os.path.join(SRC[0], "vllm", "entrypoints", "cli", "serve.py")
    return path if os.path.exists(path) else None


def _subparser_init(origin):
    """``ServeSubcommand.subparser_init`` of serve.py, compiled on its own.

    Importing serve.py runs its imports of the engine runtime (executors, workers, kernels, uvloop);
    the function needs only a few of them (make_arg_parser, FlexibleArgumentParser, DESCRIPTION, the
    epilog).  So the function's source is compiled alone, with exactly the names it uses resolved
    through serve.py's own import statements and module-level assignments.  The arguments, the
    add_parser call and make_arg_parser are the release's own code, unchanged.
    """
    import ast
    import builtins
    import importlib
    with open(origin) as handle:
        tree = ast.parse(handle.read(), origin)
    imports, assigns, func = {}, [], None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join("vllm.entrypoints.cli".split(".")[: 4 - node.level]) + ("." + base if base else "")
            for alias in node.names:
                imports[alias.asname or alias.name] = (base, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    imports[alias.asname] = (alias.name, None)
                else:
                    imports[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            assigns.append(node)
        elif isinstance(node, ast.ClassDef) and node.name == "ServeSubcommand":
            func = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "subparser_init")
    if func is None:
        raise SystemExit("%s has no ServeSubcommand.subparser_init" % origin)
    func.decorator_list = []
    scope = {"__builtins__": builtins, "__name__": "vllm.entrypoints.cli.serve", "__file__": origin}

    def resolve(names):
        for name in sorted(names):
            if name in imports and name not in scope:
                module, attr = imports[name]
                loaded = importlib.import_module(module) if attr is None else None
                if attr is not None:
                    try:
                        loaded = getattr(importlib.import_module(module), attr)
                    except (ImportError, AttributeError):
                        loaded = importlib.import_module(module + "." + attr)
                scope[name] = loaded

    wanted = {n.id for n in ast.walk(func) if isinstance(n, ast.Name)}
    for assign in assigns:  # module constants the function reads (DESCRIPTION = ...)
        targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
        if any(isinstance(t, ast.Name) and t.id in wanted for t in targets) and assign.value is not None:
            resolve({n.id for n in ast.walk(assign.value) if isinstance(n, ast.Name)})
            exec(compile(ast.Module(body=[assign], type_ignores=[]), origin, "exec"), scope)
    resolve(wanted)
    exec(compile(ast.Module(body=[func], type_ignores=[]), origin, "exec"), scope)
    return scope["subparser_init"], sorted(n for n in wanted if n in imports)


def _serve_parser(top):
    """Build `vllm serve` into FlexibleArgumentParser ``top`` the way the release's CLI does.

    0.7.3+: ``ServeSubcommand.subparser_init`` of vllm/entrypoints/cli/serve.py (see _subparser_init),
    called on ``top.add_subparsers()`` as vllm/entrypoints/cli/main.py does.  0.6/0.7.0-0.7.2: no
    serve.py; vllm/scripts.py main() adds ``model_tag`` and ``--config`` to ``add_parser("serve")``
    and calls vllm.entrypoints.openai.cli_args.make_arg_parser; those calls are repeated here.
    """
    import types
    subparsers = top.add_subparsers(required=False, dest="subparser")
    origin = _serve_py()
    if origin is not None:
        init, used = _subparser_init(origin)
        parser = init(types.SimpleNamespace(name="serve"), subparsers)
        return parser, "vllm/entrypoints/cli/serve.py ServeSubcommand.subparser_init (uses %s)" % ", ".join(used)
    from vllm.entrypoints.openai.cli_args import make_arg_parser
    serve_parser = subparsers.add_parser(
        "serve", help="Start the vLLM OpenAI Compatible API server", usage="vllm serve <model_tag> [options]")
    serve_parser.add_argument("model_tag", type=str, help="The model tag to serve")
    serve_parser.add_argument("--config", type=str, default="",
                              help="Read CLI options from a config file.Must be a YAML with the following options")
    return (make_arg_parser(serve_parser) or serve_parser,
            "vllm/scripts.py main() calls + vllm.entrypoints.openai.cli_args.make_arg_parser")


def _flexible_parser_class():
    try:
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError:
        from vllm.utils import FlexibleArgumentParser
    return FlexibleArgumentParser


def _type_name(action):
    kind = action.type
    if kind is None:
        return None
    name = getattr(kind, "__name__", None)
    if name is None and hasattr(kind, "func"):  # functools.partial
        name = getattr(kind.func, "__name__", None)
    return name or type(kind).__name__


def _choices(action):
    if action.choices is None:
        return None
    try:
        values = list(action.choices)
    except TypeError:
        return None
    if not all(isinstance(value, (str, int, float)) for value in values):
        return None
    return [value if isinstance(value, str) else str(value) for value in values]


def _nargs(action):
    nargs = action.nargs
    if nargs is None:
        return None
    return nargs if isinstance(nargs, str) else int(nargs)


def walk(parser):
    """Every argparse action of ``parser`` with every option string it is registered under.

    The option strings come from ``parser._option_string_actions``, the table argparse parses with:
    since 0.2x vLLM's EnableDisableAction keeps ``--no-enable-x`` registered there but drops it from
    ``action.option_strings`` (hidden from --help).
    """
    groups = {}
    for group in parser._action_groups:
        for action in group._group_actions:
            groups[id(action)] = group.title
    registered = {}
    for option, action in parser._option_string_actions.items():
        registered.setdefault(id(action), []).append(option)
    flags = []
    for action in parser._actions:
        if not action.option_strings:
            continue
        options = list(action.option_strings) + sorted(
            opt for opt in registered.get(id(action), []) if opt not in action.option_strings)
        negative = set(getattr(action, "negative_option_strings", ()) or ())
        if isinstance(action, getattr(argparse, "BooleanOptionalAction", ())) and not negative:
            negative = {opt for opt in options if opt.startswith("--no-")}
        flags.append({
            "options": options,
            "negative": sorted(negative),
            "hidden": sorted(opt for opt in options if opt not in action.option_strings),
            "dest": action.dest,
            "action": type(action).__name__,
            "takes_value": action.nargs != 0,
            "nargs": _nargs(action),
            "type": _type_name(action),
            "choices": _choices(action),
            "group": groups.get(id(action)),
            "deprecated": bool(getattr(action, "deprecated", False))
            or "deprecated" in str(action.help or "").lower(),
        })
    return flags


def child(args):
    sys.path.insert(0, args.src)
    SRC[0] = args.src
    sys.argv = ["vllm", "serve"]
    _read_requires(args.src)
    _install_stubs()
    _pin_platform()
    import logging
    logging.disable(logging.WARNING)
    parser_class = _flexible_parser_class()
    top = parser_class(description="vLLM CLI")
    serve_parser, how = _serve_parser(top)
    flags = walk(serve_parser)
    result = {"parser": how, "platform": PLATFORM[0], "parser_class": "%s.%s" % (parser_class.__module__, parser_class.__name__),
              "stubbed": sorted(STUBBED), "flags": flags}
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
    if args.help_out:
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            try:
                top.parse_args(["serve", "--help=all"])
            except SystemExit:
                pass
        with open(args.help_out, "w") as handle:
            handle.write(text.getvalue())
    print("%s: %d actions, %d option strings; stubbed %s" % (
        args.src, len(flags), sum(len(f["options"]) for f in flags), ", ".join(sorted(STUBBED))), file=sys.stderr)


# ---------------------------------------------------------------- generate
def _key(release):
    parts = release.replace(".post", ".").split(".")
    return tuple(int(part) for part in parts[:3])


def _short(release):
    """``0.6.6.post1`` -> ``0.6.6`` (the collection's parse_version drops the post suffix)."""
    return ".".join(str(part) for part in _key(release))


def generate(work, releases, data_module=DATA_MODULE, fixtures=FIXTURES):
    releases = sorted(releases, key=_key)
    dumps = {}
    for release in releases:
        with open(os.path.join(work, "json", release + ".json")) as handle:
            dumps[_short(release)] = json.load(handle)
    names = [_short(release) for release in releases]
    # option string -> release -> attributes (as a tuple, to see where they change)
    table = {}
    for release in names:
        for flag in dumps[release]["flags"]:
            canonical = next((opt for opt in flag["options"] if opt.startswith("--")), flag["options"][0])
            for opt in flag["options"]:
                attrs = (
                    canonical,
                    "neg" if opt in flag["negative"] else ("value" if flag["takes_value"] else "switch"),
                    flag["nargs"] if opt not in flag["negative"] else 0,
                    flag["type"] if opt not in flag["negative"] else None,
                    tuple(flag["choices"]) if flag["choices"] and opt not in flag["negative"] else None,
                    flag["action"],
                    bool(flag["deprecated"]),
                    opt in flag["hidden"],
                )
                table.setdefault(opt, {})[release] = attrs
    lines = [
        "# -*- coding: utf-8 -*-",
        "# Copyright: llmops contributors",
        "# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)",
        "# GENERATED by hack/vllm_flags.py from vLLM's own `vllm serve` argument parser; do not edit by hand.",
        "# Re-run: python3 hack/vllm_flags.py all   (see CONTRIBUTING.md, \"A new vLLM release\").",
        '"""Every option string of `vllm serve`, per dumped vLLM release.',
        "",
        "RELEASES: the releases dumped (each built with its own wheel's Python sources).  FLAGS: option",
        "string -> list of rows ``(since, until, canonical, form, nargs, type, choices, action, deprecated, hidden)``,",
        "one per span of dumped releases where the attributes stay the same; ``until`` is exclusive,",
        "``None`` = still in the newest dumped release.  form: ``value`` takes an argument, ``switch`` takes",
        "none, ``neg`` is the negative form of a boolean (``--no-x``, or ``--disable-x`` paired with",
        "``--enable-x``).  canonical: the first long option string of its argparse action (aliases and",
        "negative forms point at it).  hidden: registered but left out of --help.",
        '"""',
        "",
        "RELEASES = (",
    ]
    for release in releases:
        dump_ = dumps[_short(release)]
        lines.append("    %r,  # %d option strings; %s, %s" % (
            _short(release), sum(len(f["options"]) for f in dump_["flags"]),
            "serve.py subparser_init" if "serve.py" in dump_["parser"] else "scripts.py main() + make_arg_parser",
            dump_["platform"].rsplit(".", 1)[-1]))
    lines.append(")")
    lines.append("")
    flags = {}
    for opt in sorted(table):
        per = table[opt]
        rows = []
        current = None
        for release in names:
            attrs = per.get(release)
            if attrs != current:
                if current is not None:
                    rows[-1][1] = release
                if attrs is not None:
                    rows.append([release, None, attrs])
                current = attrs
        flags[opt] = [(since, until) + attrs for since, until, attrs in rows]
    lines.append("FLAGS = {")
    for opt in sorted(flags):
        lines.append("    %r: [" % opt)
        for row in flags[opt]:
            text = pprint.pformat(row, width=110, compact=True)
            lines.extend("        " + line for line in text.splitlines())
            lines[-1] += ","
        lines.append("    ],")
    lines.append("}")
    os.makedirs(os.path.dirname(data_module), exist_ok=True)
    with open(data_module, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    help_src = os.path.join(work, "json", HELP_RELEASE + ".help-all.txt")
    if os.path.exists(help_src):
        os.makedirs(fixtures, exist_ok=True)
        shutil.copy(help_src, os.path.join(fixtures, "vllm-%s-serve-help-all.txt" % HELP_RELEASE))
    print("wrote %s (%d option strings over %d releases)" % (data_module, len(table), len(releases)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("all", "fetch", "dump", "generate"):
        p = sub.add_parser(name)
        p.add_argument("--work", default="/tmp/vllmflags")
        p.add_argument("--releases", default=",".join(RELEASES))
        p.add_argument("--keep-src", action="store_true", help="keep the extracted sources (about 20-60 MB each)")
    c = sub.add_parser("_child")
    c.add_argument("--src", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--help-out")
    args = parser.parse_args(argv)
    if args.cmd == "_child":
        return child(args)
    releases = [r for r in args.releases.split(",") if r]
    os.makedirs(args.work, exist_ok=True)
    if args.cmd in ("fetch",):
        for release in releases:
            fetch(release, args.work)
    if args.cmd in ("dump", "all"):
        for release in releases:
            dump(release, args.work)
            if not args.keep_src:
                shutil.rmtree(os.path.join(args.work, "src", release), ignore_errors=True)
    if args.cmd in ("generate", "all"):
        # the module always covers every release of RELEASES (plus any asked for): --releases only
        # narrows what is fetched and dumped now; the other dumps are read from WORK/json
        generate(args.work, sorted(set(RELEASES) | set(releases), key=_key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
