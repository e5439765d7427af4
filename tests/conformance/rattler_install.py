"""Installs packages with py-rattler, the conda org's reference installer (the one pixi uses).

Usage: python3 rattler_install.py <request.json>
request.json: {"prefix": ..., "cache": ..., "platform": "linux-64",
               "packages": [{"channel": "file:///...", "subdir": "linux-64", "fn": "x-1-0.conda",
                             "dir": "<channel directory on disk, when the channel is http>"}, ...]}
Packages are given in dependency order. The records come from the channel's repodata.json on disk;
the archives from the channel URL. Prints one JSON line: {"seconds": <install time>, "cpu_seconds":
<user + system CPU time of the install, every thread>, "max_rss_kb": ...}.
"""
import asyncio
import json
import os
import resource
import sys
import time
from urllib.parse import urlparse
from urllib.request import url2pathname

from rattler import Channel, Platform, RepoData, install


def channel_dir(url: str) -> str:
    return url2pathname(urlparse(url).path)


def load_records(packages):
    by_source = {}
    local = {}
    for p in packages:
        by_source.setdefault((p["channel"], p["subdir"]), []).append(p["fn"])
        local[p["channel"]] = p.get("dir") or channel_dir(p["channel"])
    records = {}
    for (channel, subdir), fns in by_source.items():
        repodata = RepoData.from_path(os.path.join(local[channel], subdir, "repodata.json"))
        for record in repodata.into_repo_data(Channel(channel)):
            if record.file_name in fns:
                records[(channel, subdir, record.file_name)] = record
    return [records[(p["channel"], p["subdir"], p["fn"])] for p in packages]


async def main(request_path: str) -> None:
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    records = load_records(request["packages"])
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    await install(
        records,
        target_prefix=request["prefix"],
        cache_dir=request["cache"],
        platform=Platform(request.get("platform", "linux-64")),
        execute_link_scripts=True,
        show_progress=False,
    )
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = (usage.ru_utime - cpu_before.ru_utime) + (usage.ru_stime - cpu_before.ru_stime)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "max_rss_kb": peak_rss_kb(usage)}))


def peak_rss_kb(usage) -> int:
    """This process's own peak RSS: VmHWM (getrusage's maxrss survives exec, so a child of a large
    parent would report the parent's peak when it is higher than its own)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return usage.ru_maxrss


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
