"""Fixtures for the GPU core: the real H200 capture, and multi-GPU / MIG / NVSwitch / no-driver cases derived from it
(the H200 host can only show one GPU, MIG off, no NVSwitch). Derivations are written beside each builder."""

from __future__ import annotations

import os
import re
import stat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))
H200 = os.path.join(ROOT, "tests", "fixtures", "h200")

# nvidia-smi 535.261.03 (Debian bookworm non-free) in a podman container without the kernel driver and without
# /dev/nvidia*: this on stdout, exit status 9 (observed here, and asserted live in molecule/gpu_node_preflight).
NVSMI_NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
                   "NVIDIA driver is installed and running.\n\n")
NVSMI_NO_DRIVER_RC = 9
# NVML's own failure line, the other documented form (device nodes present but the driver unusable; exit status 255).
NVML_NO_DRIVER = "Failed to initialize NVML: Unknown Error\n"


def read(name):
    with open(os.path.join(H200, name), encoding="utf-8") as fh:
        return fh.read()


def h200_xml():
    return read("nvidia-smi-q-x.xml")


def hgx_xml(n=8, product="NVIDIA H100 80GB HBM3", mem_mib=81559, mig=False, mig_pending=None, odd_one=None):
    """An n-GPU HGX board: the real H200 <gpu> element repeated with bus ids 0000000x:18.0, product name and memory
    replaced (81559 MiB is what nvidia-smi reports for an H100 80GB HBM3, cf. GFD's nvidia.com/gpu.memory on such nodes),
    MIG modes set, and with MIG on two mig_device entries per GPU shaped as NVIDIA's nvsmi DTD describes them."""
    text = h200_xml()
    head, rest = text.split("<gpu id=", 1)
    body, tail = rest.rsplit("</gpu>", 1)
    gpu = "<gpu id=" + body + "</gpu>"
    gpus = []
    for i in range(n):
        g = gpu.replace('id="00000000:00:06.0"', 'id="0000000%X:18:00.0"' % i)
        g = g.replace("<minor_number>0</minor_number>", "<minor_number>%d</minor_number>" % i)
        g = g.replace("GPU-a1f914b4-debe-c8d7-d663-c68fcfdf0c10", "GPU-00000000-0000-0000-0000-00000000000%d" % i)
        name = odd_one if (odd_one and i == n - 1) else product
        g = g.replace("<product_name>NVIDIA H200</product_name>", "<product_name>%s</product_name>" % name)
        g = re.sub(r"(<fb_memory_usage>\s*<total>)143771 MiB", r"\g<1>%d MiB" % mem_mib, g)
        cur = "Enabled" if mig else "Disabled"
        pend = cur if mig_pending is None else ("Enabled" if mig_pending else "Disabled")
        g = g.replace("<current_mig>Disabled</current_mig>", "<current_mig>%s</current_mig>" % cur)
        g = g.replace("<pending_mig>Disabled</pending_mig>", "<pending_mig>%s</pending_mig>" % pend)
        if mig:
            devs = "".join(
                "<mig_device><index>%d</index><gpu_instance_id>%d</gpu_instance_id><compute_instance_id>0</compute_instance_id>"
                "<device_attributes><shared><multiprocessor_count>%d</multiprocessor_count></shared></device_attributes>"
                "<fb_memory_usage><total>%d MiB</total><reserved>0 MiB</reserved><used>13 MiB</used><free>%d MiB</free>"
                "</fb_memory_usage></mig_device>" % (k, 5 + k, 60, 40192, 40179) for k in range(2))
            g = re.sub(r"<mig_devices>\s*None\s*</mig_devices>", "<mig_devices>%s</mig_devices>" % devs, g)
        gpus.append(g)
    head = head.replace("<attached_gpus>1</attached_gpus>", "<attached_gpus>%d</attached_gpus>" % n)
    return head + "\n".join(gpus) + tail


# `nvidia-smi topo -m` of an 8-GPU HGX board: the real H200 header/legend layout with NV18 between every pair
# (18 NVLinks per GPU through NVSwitch on HGX H100/H200, as NVIDIA's HGX documentation states).
def hgx_topo(n=8):
    head = "\tGPU%s\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID" % "\tGPU".join(str(i) for i in range(n))
    rows = []
    for i in range(n):
        cells = ["X" if j == i else "NV18" for j in range(n)]
        rows.append("GPU%d\t %s \t0-55\t0\t\tN/A" % (i, "\t".join(cells)))
    return "\x1b[4m" + head + "\x1b[0m\n" + "\n".join(rows) + "\n\nLegend:\n\n  X    = Self\n  NV#  = Connection traversing a bonded set of # NVLinks\n"


def make_root(base, gpus=(("0000:00:06.0", "0x2335"),), nvswitches=(), other=(("0000:00:01.0", "0x8086", "0x7000", "0x060100"),),
              modules=None, driver_version=None, kernel_release=None):
    """A /proc + /sys tree as the kernel lays it out: sys/bus/pci/devices/<addr>/{vendor,device,class}."""
    devs = os.path.join(base, "sys", "bus", "pci", "devices")
    os.makedirs(devs, exist_ok=True)

    def dev(addr, vendor, device, klass):
        d = os.path.join(devs, addr)
        os.makedirs(d, exist_ok=True)
        for k, v in (("vendor", vendor), ("device", device), ("class", klass)):
            with open(os.path.join(d, k), "w") as fh:
                fh.write(v + "\n")
    for addr, device in gpus:
        dev(addr, "0x10de", device, "0x030200")
    for addr, device in nvswitches:
        dev(addr, "0x10de", device, "0x068000")
    for addr, vendor, device, klass in other:
        dev(addr, vendor, device, klass)
    os.makedirs(os.path.join(base, "proc", "driver", "nvidia"), exist_ok=True)
    with open(os.path.join(base, "proc", "modules"), "w") as fh:
        fh.write(read("proc_modules_nvidia.txt") if modules is None else modules)
    if driver_version is not False:
        with open(os.path.join(base, "proc", "driver", "nvidia", "version"), "w") as fh:
            fh.write(read("proc_driver_nvidia_version.txt") if driver_version is None else driver_version)
    if kernel_release:
        os.makedirs(os.path.join(base, "lib", "modules", kernel_release, "build"), exist_ok=True)
    return base


def fake_smi(path, xml=None, rc=0, out=None, topo=None, csv=None, lgip=None):
    """An executable that replays recorded nvidia-smi output per sub-command (for running the real module)."""
    cases = {"-q": (xml if xml is not None else h200_xml(), rc if out is None else rc),
             "topo": (topo if topo is not None else read("nvidia-smi-topo.txt"), 0),
             "--query-gpu=index,uuid,compute_cap": (csv if csv is not None else
                                                    "index, uuid, compute_cap\n0, GPU-a1f914b4-debe-c8d7-d663-c68fcfdf0c10, 9.0\n", 0),
             "mig": (lgip if lgip is not None else read("nvidia-smi-mig-lgip.txt"), 0)}
    data_dir = path + ".d"
    os.makedirs(data_dir, exist_ok=True)
    lines = ["#!/bin/sh", "case \"$1\" in"]
    for key, (text, code) in cases.items():
        fname = os.path.join(data_dir, re.sub(r"[^A-Za-z0-9]", "_", key))
        with open(fname, "w") as fh:
            fh.write(out if (out is not None and key == "-q") else text)
        lines.append("  %s) cat '%s'; exit %d;;" % (key, fname, rc if key == "-q" else code))
    lines.append("esac\nexit 2")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
