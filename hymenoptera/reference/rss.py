"""Peak resident memory of the PyTorch side of `hymenoptera bench --mem` (Linux figures, in KiB)."""

import resource


def peak_rss_kib():
    """This process's peak resident memory: VmHWM, the high-water mark of its own address space. Not ru_maxrss:
    the kernel keeps that across exec, so it would report the peak of the Go process that started this one."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def workers_peak_rss_kib():
    """The largest peak of the child processes that have ended (DataLoader's workers end with each epoch). A
    forked worker's resident memory counts the pages it shares with this process."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
