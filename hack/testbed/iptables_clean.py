"""Remove what the bed's real node added to iptables/ip6tables, and nothing else.

usage: iptables_clean.py CNI_NETWORK_NAME
Drops every chain named KUBE-* (kubelet, kube-proxy) and the CNI-* chains that rules commented with the
bed's CNI network name jump to (the bridge plugin's ipMasq), plus every rule that jumps to one of them
or carries that comment. Other users' chains (podman's, netavark's, other CNI networks') are left alone.
Rules are deleted one by one with -D (no table restore), so concurrent users are not overwritten.
"""

import shlex
import shutil
import subprocess
import sys


def parse(dump):
    table, chains, rules = None, {}, []
    for line in dump.splitlines():
        if line.startswith("*"):
            table = line[1:]
            chains[table] = set()
        elif line.startswith(":"):
            chains[table].add(line[1:].split()[0])
        elif line.startswith("-A "):
            rules.append((table, shlex.split(line)))
    return chains, rules


def clean(tool, network):
    save = shutil.which(tool + "-save")
    if not save or not shutil.which(tool):
        return
    dump = subprocess.run([save], check=True, capture_output=True, text=True).stdout
    tag = 'name: "%s"' % network

    def ours(args):  # the bridge plugin's comment on its rules names the network
        return any(tag in a for a in args)

    chains, rules = parse(dump)
    drop = {t: {c for c in cs if c.startswith("KUBE-")} for t, cs in chains.items()}
    for t, args in rules:
        if ours(args) and "-j" in args:
            target = args[args.index("-j") + 1]
            if target.startswith("CNI-"):
                drop[t].add(target)
    for t, args in rules:
        chain = args[1]
        target = args[args.index("-j") + 1] if "-j" in args else (args[args.index("-g") + 1] if "-g" in args else "")
        if chain in drop[t]:
            continue  # flushed with its chain below
        if target in drop[t] or ours(args):
            subprocess.run([tool, "-w", "-t", t, "-D"] + args[1:], check=False, capture_output=True)
    for t, cs in drop.items():
        for c in cs:
            subprocess.run([tool, "-w", "-t", t, "-F", c], check=False, capture_output=True)
        for c in cs:
            subprocess.run([tool, "-w", "-t", t, "-X", c], check=False, capture_output=True)
    chains, rules = parse(subprocess.run([save], check=True, capture_output=True, text=True).stdout)
    stale = sorted(c for cs in chains.values() for c in cs if c.startswith("KUBE-")) + [" ".join(a) for dummy, a in rules if ours(a)]
    if stale:
        sys.exit("%s: still present after clean-up: %s" % (tool, stale))


if __name__ == "__main__":
    for tool in ("iptables", "ip6tables"):
        clean(tool, sys.argv[1])
