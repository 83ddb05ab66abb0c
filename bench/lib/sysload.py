"""Machine-wide CPU use from /proc/stat, for the idle guard and noise figures."""
import os
import time

_CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def snapshot():
    """(task CPU jiffies, irq+softirq jiffies, total jiffies) from the 'cpu' line.

    Task CPU is user+nice+system (guest time is already inside user).
    Interrupt time is kept apart: /proc/stat files ticks spent in (soft)irq
    context there, while a task's schedstat runtime includes the softirq work
    (e.g. loopback TCP receive) done on its behalf. Compare per-process
    figures with task + irq.
    """
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    fields += [0] * (8 - len(fields))
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    task = user + nice + system
    return task, irq + softirq, task + irq + softirq + idle + iowait + steal


def cores_between(a, b):
    """(task cores, irq cores) busy between two snapshots."""
    total = b[2] - a[2]
    if total <= 0:
        return 0.0, 0.0
    return (b[0] - a[0]) * NCPU / total, (b[1] - a[1]) * NCPU / total


def wait_idle(threshold, max_wait, interval=0.5):
    """Wait until the machine uses less than `threshold` cores over one interval.

    Bounded by max_wait seconds. Returns (idle reached?, last busy cores,
    seconds waited).
    """
    start = time.monotonic()
    busy = 0.0
    prev = snapshot()
    while True:
        time.sleep(interval)
        cur = snapshot()
        task, irq = cores_between(prev, cur)
        busy = task + irq
        prev = cur
        waited = time.monotonic() - start
        if busy < threshold:
            return True, busy, waited
        if waited + interval > max_wait:
            return False, busy, waited
