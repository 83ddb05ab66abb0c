"""Virtual IPs in `pier lab`: real kernel ARP/NDP clients (ip neigh, arping, ndisc6,
tcpdump, curl) in the lab's client namespace, against pier nodes in their own
namespaces on one bridge (src/lab/plan.h has the addressing plan).

Needs root (network namespaces) and arping, ndisc6, tcpdump (scripts/install-deps.sh).
The topology tests come first and build their own lab without virtual IPs; the
VIP tests share one lab per module (3 nodes, heartbeat 100 ms, dead after 3
missed) and each starts by restoring every node and link.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from lab import (CLIENT_NS, RUN_DIR, VIP4, VIP6, PierLab, Capture, arp_reply_macs, first_ok_via_other,
                 forged_heartbeat, gratuitous_arps, in_client, lab_namespaces, lab_pids, node_mac,
                 node_of_label, node_of_mac, rendezvous_weight, run, send_udp_from_client)
from pier_proc import Metrics

pytestmark = pytest.mark.slow

HEARTBEAT_S = 0.1


# ---- the lab itself (no virtual IPs needed) ---------------------------------------------

def test_lab_builds_pods_answer_through_their_node_and_down_removes_everything(pier_bin):
    lab = PierLab(pier_bin, nodes=2)
    try:
        lab.up("--no-vip")
        want = {"pier-lab-client", "pier-lab-switch", "pier-lab-node1", "pier-lab-node2",
                "pier-lab-node1-pod1", "pier-lab-node1-pod2", "pier-lab-node2-pod1", "pier-lab-node2-pod2"}
        assert set(lab_namespaces()) == want
        for n in (1, 2):
            seen = {lab.get(f"http://10.77.0.1{n}/") for _ in range(6)}
            assert seen == {f"pod node{n}-pod1", f"pod node{n}-pod2"}, seen
        # Pods sit behind their node: the client has no route to them.
        assert in_client(["curl", "-sS", "-m", "1", "http://10.78.1.2:8080/"]).returncode != 0
        # Each pod's gateway is its node's cni0.
        r = run(["ip", "-n", "pier-lab-node2-pod1", "route", "show", "default"])
        assert "via 10.78.2.1 dev eth0" in r.stdout
        assert run(["ip", "netns", "exec", "pier-lab-node1", "sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
        mac = run(["ip", "-n", "pier-lab-node2", "link", "show", "eth0"]).stdout
        assert node_mac(2) in mac
        for f in ("node1.yaml", "node1-pod1.yaml"):
            r = subprocess.run([str(pier_bin), "validate", str(RUN_DIR / f)], capture_output=True, text=True,
                               timeout=10)
            assert r.returncode == 0, r.stdout + r.stderr
        assert len(lab_pids()) == 6
    finally:
        r = lab.down()
    assert r.returncode == 0, r.stdout + r.stderr
    assert lab_namespaces() == []
    assert lab_pids() == []
    assert not RUN_DIR.exists()


def test_lab_down_cleans_up_after_a_crash_and_is_idempotent(pier_bin):
    lab = PierLab(pier_bin, nodes=1)
    try:
        lab.up("--no-vip")
        pids = lab_pids()
        assert len(pids) == 3
        for pid in pids:  # everything dies at once, as if the machine's lab runner crashed
            os.kill(pid, signal.SIGKILL)
    finally:
        first = lab.down()
    second = lab.down()
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    assert lab_namespaces() == []
    assert lab_pids() == []


def test_lab_down_leaves_foreign_namespaces_alone(pier_bin):
    run(["ip", "netns", "add", "pier-e2e-foreign"])
    try:
        r = PierLab(pier_bin).down()
        assert r.returncode == 0
        assert "pier-e2e-foreign" in run(["ip", "netns", "list"]).stdout
    finally:
        run(["ip", "netns", "del", "pier-e2e-foreign"], check=False)


# ---- virtual IPs ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vip_lab(pier_bin):
    lab = PierLab(pier_bin, nodes=3)
    reports = ""
    try:
        lab.up()
        yield lab
    finally:
        reports = lab.sanitizer_reports()
        lab.down()
    if reports:
        raise AssertionError(f"a lab pier reported a sanitizer error:\n{reports}")


@pytest.fixture
def lab(vip_lab, request):
    vip_lab.restore()
    yield vip_lab
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(vip_lab.log_tails(20))


def test_node_configs_validate(lab):
    for n in range(1, lab.nodes + 1):
        r = subprocess.run([str(lab.binary), "validate", str(RUN_DIR / f"node{n}.yaml")], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0, r.stdout + r.stderr


def test_vip_resolves_to_the_owners_mac_and_only_one_mac_answers(lab):
    owner = lab.owner()
    assert node_of_label(lab.get()) == owner
    cap = Capture("arp")
    try:
        r = in_client(["arping", "-d", "-c", "3", "-w", "3", "-i", "eth0", VIP4], timeout=15)
    finally:
        lines = cap.stop()
    macs = {m.lower() for m in re.findall(r"bytes from ([0-9a-fA-F:]{17})", r.stdout)}
    assert macs == {node_mac(owner)}, r.stdout
    assert r.returncode == 0, f"arping -d saw duplicate answers or none:\n{r.stdout}{r.stderr}"
    assert arp_reply_macs(lines) == {node_mac(owner)}, "\n".join(lines)
    assert owners_by_metrics(lab, VIP4) == [owner]


def test_ipv6_vip_resolves_to_the_owners_mac_and_only_one_mac_answers(lab):
    owner = lab.owner(VIP6)
    assert node_of_label(lab.get(f"http://[{VIP6}]/")) == owner
    r = in_client(["ndisc6", "-m", "-n", "-r", "3", "-w", "500", VIP6, "eth0"], timeout=15)
    macs = {m.lower() for m in re.findall(r"Target link-layer address: ([0-9A-Fa-f:]{17})", r.stdout)}
    assert macs == {node_mac(owner)}, r.stdout + r.stderr
    assert node_of_mac(lab.neigh(VIP6)[0]) == owner
    assert owners_by_metrics(lab, VIP6) == [owner]


def test_kill_9_of_the_owner_moves_the_vip_within_a_second(lab):
    owner = lab.owner()
    cap = Capture("arp")
    probe = lab.probe(duration=8)
    try:
        time.sleep(0.3)  # let the probe establish a baseline
        t0 = time.monotonic_ns()
        lab.signal_node(owner, signal.SIGKILL)
        deadline = time.monotonic() + 3
        while node_of_mac(lab.neigh()[0]) in (None, owner) and time.monotonic() < deadline:
            time.sleep(0.02)  # poll interval
        time.sleep(0.3)
    finally:
        results = probe.stop()
        lines = cap.stop()
    new_mac, _ = lab.neigh()
    new = node_of_mac(new_mac)
    assert new not in (None, owner), f"the client's neighbour entry still names node{owner}: {new_mac}"
    assert node_mac(new) in gratuitous_arps(lines), "no gratuitous ARP from the new owner:\n" + "\n".join(lines)
    ms, via = first_ok_via_other(results, t0, owner)
    assert ms is not None and ms <= 1000, f"first success through another node after {ms} ms\n{probe.text[-2000:]}"
    assert via == new


def test_owner_link_down_moves_the_vip_and_one_mac_answers_when_it_returns(lab):
    owner = lab.owner()
    probe = lab.probe(duration=6)
    try:
        time.sleep(0.3)
        t0 = time.monotonic_ns()
        lab.set_link(owner, False)
        time.sleep(1.5)
    finally:
        results = probe.stop()
    ms, new = first_ok_via_other(results, t0, owner)
    assert ms is not None and ms <= 1000, f"first success through another node after {ms} ms"
    lab.set_link(owner, True)
    # Wait out a few heartbeats and the old owner's possible claim, then ask.
    time.sleep(10 * HEARTBEAT_S + 1.2)
    lab.owner()
    r = in_client(["arping", "-d", "-c", "3", "-w", "3", "-i", "eth0", VIP4], timeout=15)
    macs = {m.lower() for m in re.findall(r"bytes from ([0-9a-fA-F:]{17})", r.stdout)}
    assert len(macs) == 1 and r.returncode == 0, f"after the link returned:\n{r.stdout}"


def test_graceful_stop_hands_over_without_a_failed_request(lab):
    owner = lab.owner()
    probe = lab.probe(duration=8)
    try:
        time.sleep(0.5)
        t0 = time.monotonic_ns()
        lab.signal_node(owner, signal.SIGTERM)
        lab.wait_node_gone(owner, timeout=10)
        time.sleep(0.5)
    finally:
        results = probe.stop()
    ms, new = first_ok_via_other(results, t0, owner)
    assert ms is not None, "no request succeeded through another node"
    failed = [r for r in results if not r[2] and r[1] >= t0]
    # A connection open to the old owner at the instant the client's neighbour
    # entry switches is reset by the new owner (no state for it; MetalLB and
    # keepalived without conntrackd do the same). The prober opens one every
    # 1 ms, so at most one request can straddle the switch; every other
    # request, before and after, must succeed.
    straddling = [r for r in failed if r[3] == "reset"]
    assert len(straddling) <= 1 and len(failed) == len(straddling), \
        f"{len(failed)} requests failed during the handover: {failed[:5]}"
    assert node_of_mac(lab.neigh()[0]) == new


ACCEPTED_RESULTS = {"accepted", "duplicate", "own"}


def rejected_heartbeats(lab) -> float:
    """pier_vip_heartbeats_received_total over every node, for every result that
    is a rejection (bad_mac, truncated, bad_magic, replay, ...)."""
    total = 0.0
    for n in range(1, lab.nodes + 1):
        for labels, value in Metrics(lab.metrics_text(n)).series("pier_vip_heartbeats_received_total"):
            if labels.get("result") not in ACCEPTED_RESULTS:
                total += value
    return total


def owners_by_metrics(lab, ip: str) -> list[int]:
    """The nodes whose pier_vip_owned{ip} is 1."""
    return lab.metric_owners(ip)


def test_forged_heartbeats_without_the_key_change_nothing(lab):
    owner = lab.owner()
    owner6 = lab.owner(VIP6)
    before = rejected_heartbeats(lab)
    # A name that would win both VIPs if the nodes believed it.
    v4, v6 = bytes([10, 77, 0, 100]), bytes.fromhex("fd770000000000000000000000000100")
    best = max(max(rendezvous_weight(f"node{n}", v4), rendezvous_weight(f"node{n}", v6))
               for n in range(1, lab.nodes + 1))
    intruder = next(f"intruder{i}" for i in range(100000)
                    if min(rendezvous_weight(f"intruder{i}", v4), rendezvous_weight(f"intruder{i}", v6)) > best)
    wrong_key = os.urandom(32)
    forged = [forged_heartbeat(intruder, wrong_key, seq) for seq in range(1, 31)]
    forged += [os.urandom(100), b"PIER\x01", os.urandom(1200)]
    probe = lab.probe(duration=6)
    try:
        time.sleep(0.3)
        t0 = time.monotonic_ns()
        send_udp_from_client(forged)
        time.sleep(5 * HEARTBEAT_S + 0.5)
    finally:
        results = probe.stop()
    after_fault = [r for r in results if r[1] >= t0]
    assert after_fault and all(r[2] and node_of_label(r[3]) == owner for r in after_fault), \
        f"traffic moved or failed: {[r for r in after_fault if not r[2] or node_of_label(r[3]) != owner][:5]}"
    assert node_of_mac(lab.neigh()[0]) == owner
    assert lab.owner(VIP6) == owner6
    after = rejected_heartbeats(lab)
    assert after >= before + len(forged), f"rejected-heartbeat counters went {before} -> {after}"


def test_restart_of_a_non_owner_does_not_move_the_vip(lab):
    owner = lab.owner()
    other = next(n for n in range(1, lab.nodes + 1) if n != owner)
    probe = lab.probe(duration=20)
    macs = set()
    try:
        time.sleep(0.3)
        t0 = time.monotonic_ns()
        lab.signal_node(other, signal.SIGTERM)
        lab.wait_node_gone(other)
        lab.start_node(other)
        deadline = time.monotonic() + 10 * HEARTBEAT_S + 2
        while time.monotonic() < deadline:
            macs.add(lab.neigh()[0])
            time.sleep(0.05)  # poll interval
    finally:
        results = probe.stop()
    after = [r for r in results if r[1] >= t0]
    moved = [r for r in after if r[2] and node_of_label(r[3]) != owner]
    failed = [r for r in after if not r[2]]
    assert moved == [], f"requests went through another node: {moved[:5]}"
    assert failed == [], f"{len(failed)} requests failed: {failed[:5]}"
    assert macs == {node_mac(owner)}, macs
