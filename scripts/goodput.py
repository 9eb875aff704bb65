#!/usr/bin/env python3
"""Goodput of a large training job under failures: the expected fraction of wall time that is training.

Every input is a named option; its default is a figure measured on this project or published by Meta,
and `--help` says which. Per configuration (plain checkpoint-restart, ForgeActors' elastic re-formation
from the last checkpoint, and ForgeActors with in-memory buddy replicas, elastic.replica_interval):

    lambda  = N * failures / (days * 24 * 3600 * reference_gpus)    failures per second of an N-GPU job
                                                                    (Meta's per-GPU rate, scaled linearly in N)
    lost    = recovery + lost_steps * step                          seconds lost per failure: getting a world
                                                                    back, then redoing the steps since the
                                                                    state it restored
    ckpt    = stall / (interval * step)                             checkpoint stall per second of training

    goodput = max(0, 1 - lambda * lost) / (1 + ckpt)

Derivation: a job that trains T seconds needs W = T * (1 + ckpt) + F * lost of wall time, and it sees
F = lambda * W failures in that wall time (failures strike during recovery and redone steps too), so
T / W = (1 - lambda * lost) / (1 + ckpt). It is first order: one failure at a time, recovery shorter
than the mean time between failures (when lambda * lost >= 1 the job never progresses: goodput 0).

    lost_steps: checkpoint-restart (plain or elastic): interval / 2 on average (a failure falls uniformly
                between two checkpoints); in-memory replicas: 1 (the step in flight).
    recovery:   plain:    relaunch (requeue, start every process, communicator init) + restore (read the
                          checkpoint back onto the devices);
                elastic:  reform (the measured `forge bench supervisor` re-formation) + restore;
                replicas: reform (the state comes from a surviving replica, not from the store).
"""
import argparse

SECONDS_PER_DAY = 24 * 3600


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--gpus", default="1024,16384,100000", help="comma-separated job sizes in GPUs")
    p.add_argument("--failures", type=float, default=419, help="unexpected interruptions in the reference run (Llama 3 405B, Meta 2024)")
    p.add_argument("--days", type=float, default=54, help="length of the reference run in days (Llama 3)")
    p.add_argument("--reference-gpus", type=float, default=16384, help="GPUs of the reference run (Llama 3: 16,384 H100)")
    p.add_argument("--step-seconds", type=float, default=5.0, help="time of one training step (assumed)")
    p.add_argument("--interval", type=float, default=100, help="checkpoint interval in steps (the same for every configuration)")
    p.add_argument("--stall-seconds", type=float, default=0.25,
                   help="training stall per checkpoint (measured: forge bench checkpoint --mib 13000 on one H100, README)")
    p.add_argument("--restore-seconds", type=float, default=23.1,
                   help="reading a checkpoint back onto the devices (measured: the same benchmark's restore, README)")
    p.add_argument("--reform-seconds", type=float, default=1.473,
                   help="ForgeActors' re-formation after a process of ranks dies, SIGKILL to first step of the new world "
                        "(measured: forge bench supervisor --processes 3 at W=4096 on a 16-core host, the slowest of six runs, README)")
    p.add_argument("--relaunch-seconds", type=float, default=600,
                   help="plain checkpoint-restart: requeue and relaunch the whole job before the restore (assumed)")
    p.add_argument("--replica-lost-steps", type=float, default=1,
                   help="steps lost per failure with in-memory replicas (measured bound: BuddyReplicaRecoveryTests, real processes killed with kill -9, README)")
    a = p.parse_args()
    try:
        a.gpu_counts = [int(g) for g in a.gpus.split(",") if g.strip()]
    except ValueError:
        p.error(f"--gpus {a.gpus!r}: expected comma-separated whole numbers such as 1024,16384")
    for name in ("failures", "days", "reference_gpus", "step_seconds", "interval"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} {getattr(a, name)}: expected a positive number")
    for name in ("stall_seconds", "restore_seconds", "reform_seconds", "relaunch_seconds", "replica_lost_steps"):
        if getattr(a, name) < 0:
            p.error(f"--{name.replace('_', '-')} {getattr(a, name)}: expected 0 or more")
    if not a.gpu_counts or min(a.gpu_counts) < 1:
        p.error(f"--gpus {a.gpus!r}: expected job sizes of at least 1 GPU")
    return a


def goodput(failures_per_second, recovery, lost_steps, step, stall, interval):
    lost = recovery + lost_steps * step
    ckpt = stall / (interval * step)
    return max(0.0, 1.0 - failures_per_second * lost) / (1.0 + ckpt)


def main():
    a = parse()
    per_gpu = a.failures / (a.days * SECONDS_PER_DAY * a.reference_gpus)
    configurations = [
        ("plain ckpt-restart", a.relaunch_seconds + a.restore_seconds, a.interval / 2),
        ("elastic ckpt", a.reform_seconds + a.restore_seconds, a.interval / 2),
        ("in-memory replicas", a.reform_seconds, a.replica_lost_steps),
    ]
    print("goodput = max(0, 1 - lambda * (recovery + lost_steps * step)) / (1 + stall / (interval * step))")
    print(f"lambda = N * {a.failures:g} / ({a.days:g} d * {a.reference_gpus:g} GPUs) = N * {per_gpu * 3600:.3e} per GPU-hour; "
          f"step {a.step_seconds:g} s, interval {a.interval:g} steps, stall {a.stall_seconds:g} s")
    for name, recovery, lost_steps in configurations:
        print(f"  {name}: recovery {recovery:g} s, lost {lost_steps:g} steps per failure")
    header = f"{'GPUs':>8} {'MTBF h':>8}" + "".join(f" {name:>21}" for name, _, _ in configurations)
    print(header)
    for n in a.gpu_counts:
        rate = n * per_gpu
        row = f"{n:>8} {1 / rate / 3600:>8.2f}"
        for _, recovery, lost_steps in configurations:
            row += f" {goodput(rate, recovery, lost_steps, a.step_seconds, a.stall_seconds, a.interval):>21.4f}"
        print(row)


if __name__ == "__main__":
    main()
