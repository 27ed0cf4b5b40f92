#!/usr/bin/env python3
"""Crash-safety torture for the master (CONTRACT §21.4: "A `kill -9` of the master at any moment
never loses a change whose 2xx response was sent").

Each cycle: several client threads send creates, PATCHes, PUTs and DELETEs over keep-alive
connections; 0–300 ms after the storm starts the master is killed with SIGKILL, restarted on the
same state directory, and every instance is compared with what the clients know:

- the state after the last acknowledged (2xx) change must be there, unless the one request that
  was in flight for that instance at the kill was applied instead: then it must be exactly the
  state that request asked for, all of it (never half of a PATCH);
- an acknowledged DELETE stays deleted; a record nobody created is a violation, unless it is
  exactly an in-flight create;
- the master must start (never a refusal), keep its key, and never need the backup: a kill is not
  a power loss, so the primary must always be complete, and so must the change log: its replay
  is what brings most acknowledged changes back (counted as `replayed`), and a restart that
  finds it unreadable or orphaned is a violation.

Each instance belongs to one client thread, which sends its requests one after another, so "the
last acknowledged state" is well defined; the threads run concurrently, so group commit is under
load. Children are cheap: `bin=/bin/true` exits at once with status 0 (T3 → `stopped`, never
restarted), so nothing outlives a killed master, and each exit adds a background save that races
the acknowledged ones.

usage: torture.py [--cycles N] [--threads T] [--seed S] [--keep]
The binary is $OPENCTRL_BIN (scripts/torture sets it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "integration"))
from harness import Master  # noqa: E402

DELETED = "deleted"
MAX_KILL_DELAY = 0.3
OWNED_PER_CLIENT = 6
SCHEMES = ("torture", "edge", "relay")
WORDS = ("a", "edge-β", "site 7", "北京", "x" * 40, "quote\"d", "tab\tbed", "emoji 🚀")


def project(record: dict) -> tuple:
    """The persisted fields a client controls, in a comparable form (status and metrics are
    normalised at load and are not part of what was acknowledged)."""
    peer = record["meta"]["peer"]
    return (record["alias"], record["type"], record["url"], record["restart"],
            (peer["sid"], peer["type"], peer["alias"]), tuple(sorted(record["meta"]["tags"].items())))


def created(alias: str, url: str) -> tuple:
    return (alias, url.split("://", 1)[0], url, True, ("", "", ""), ())


def patched(state: tuple, body: dict) -> tuple:
    """CONTRACT §8.6 step 8: alias only when non-empty; peer replaces all three fields (missing
    ones become ""); tags replace the whole map."""
    alias, kind, url, restart, peer, tags = state
    if body.get("alias"):
        alias = body["alias"]
    if body.get("restart") is not None:
        restart = body["restart"]
    meta = body.get("meta")
    if meta is not None:
        if meta.get("peer") is not None:
            p = meta["peer"]
            peer = (p.get("sid", ""), p.get("type", ""), p.get("alias", ""))
        if meta.get("tags") is not None:
            tags = tuple(sorted(meta["tags"].items()))
    return (alias, kind, url, restart, peer, tags)


def put(state: tuple, url: str) -> tuple:
    alias, _, _, restart, peer, tags = state
    return (alias, url.split("://", 1)[0], url, restart, peer, tags)


@dataclass
class Instance:
    id: str
    state: tuple
    # The outcome of the request sent and not answered yet: a state, DELETED, or None.
    inflight: tuple | str | None = None


@dataclass
class Stats:
    acknowledged: int = 0
    inflight: int = 0
    inflight_applied: int = 0
    # Restarts whose acknowledged changes came back (partly) from the change log.
    replayed: int = 0
    cycles: int = 0
    violations: list[str] = field(default_factory=list)
    # IDs whose DELETE was acknowledged (or seen applied): they must never come back.
    gone: set[str] = field(default_factory=set)


class Client:
    """One keep-alive connection and the instances it owns."""

    def __init__(self, n: int, seed: int, stats: Stats, lock: threading.Lock):
        self.n = n
        self.rng = random.Random(seed)
        self.stats = stats
        self.lock = lock
        self.owned: list[Instance] = []
        # url → expected state of creates sent and not answered.
        self.pending_creates: dict[str, tuple] = {}
        self.counter = 0

    def violation(self, text: str) -> None:
        with self.lock:
            self.stats.violations.append(text)

    def word(self) -> str:
        return self.rng.choice(WORDS) + str(self.rng.randrange(1000))

    def fresh_url(self, kind: str) -> str:
        self.counter += 1
        return f"{self.rng.choice(SCHEMES)}://{kind}{self.n}-{self.counter}/p?v={self.rng.randrange(10**6)}"

    def patch_body(self, current: tuple) -> dict:
        body: dict = {}
        if self.rng.random() < 0.6:
            body["alias"] = self.rng.choice([self.word(), "", current[0]])
        if self.rng.random() < 0.4:
            body["restart"] = self.rng.choice([True, False, None])
        if self.rng.random() < 0.6:
            meta: dict = {}
            if self.rng.random() < 0.6:
                keys = self.rng.sample(["sid", "type", "alias"], self.rng.randrange(4))
                meta["peer"] = {k: self.word() for k in keys}
            if self.rng.random() < 0.6:
                meta["tags"] = {self.word(): self.word() for _ in range(self.rng.randrange(4))}
            body["meta"] = meta
        return body or {"alias": self.word()}

    def storm(self, port: int, key: str, base: str, stop: threading.Event) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            while not stop.is_set() and self.step(conn, key, base):
                pass
        finally:
            conn.close()

    def step(self, conn, key: str, base: str) -> bool:
        """Sends one change; False once the connection is gone (the master was killed)."""
        roll = self.rng.random()
        if not self.owned or (roll < 0.25 and len(self.owned) < OWNED_PER_CLIENT):
            url = self.fresh_url("c")
            alias = self.rng.choice([self.word(), ""])
            expected = created(alias, url)
            self.pending_creates[url] = expected
            ok, body = self.send(conn, key, "POST", base + "/instances", {"alias": alias, "url": url}, 201)
            if ok:
                del self.pending_creates[url]
                self.check_model("create", expected, body)
                self.owned.append(Instance(body["id"], expected))
            return ok is not None
        inst = self.rng.choice(self.owned)
        path = f"{base}/instances/{inst.id}"
        if roll < 0.65:
            body = self.patch_body(inst.state)
            inst.inflight = patched(inst.state, body)
            ok, answer = self.send(conn, key, "PATCH", path, body, 200)
        elif roll < 0.82:
            url = self.fresh_url("u")
            inst.inflight = put(inst.state, url)
            ok, answer = self.send(conn, key, "PUT", path, {"url": url}, 200)
        else:
            inst.inflight = DELETED
            ok, answer = self.send(conn, key, "DELETE", path, None, 204)
        if ok:
            if inst.inflight == DELETED:
                self.owned.remove(inst)
                with self.lock:
                    self.stats.gone.add(inst.id)
            else:
                self.check_model(path, inst.inflight, answer)
                inst.state = inst.inflight
            inst.inflight = None
        return ok is not None

    def send(self, conn, key, method, path, body, expect):
        """(True, decoded body) on the expected 2xx; (False, None) on any other answer (reported);
        (None, None) when the connection failed: the request stays in flight."""
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                         headers={"X-API-Key": key})
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            return None, None
        if resp.status != expect:
            self.violation(f"{method} {path} {json.dumps(body)} → {resp.status} {data[:200]!r}")
            return False, None
        with self.lock:
            self.stats.acknowledged += 1
        return True, (json.loads(data) if data else None)

    def check_model(self, what: str, expected: tuple, answer: dict) -> None:
        # The prediction for an in-flight request is only as good as this model; every
        # acknowledged answer checks it.
        if project(answer) != expected:
            self.violation(f"model mismatch on {what}: expected {expected}, answered {project(answer)}")


def verify(master: Master, clients: list[Client], stats: Stats, cycle: int) -> None:
    """Compares the restarted master with the clients' knowledge and adopts what was found, so
    the next cycle starts from a known state."""
    r = master.api("GET", "/instances")
    if r.status != 200:
        stats.violations.append(f"cycle {cycle}: GET /instances → {r.status}")
        return
    found = {rec["id"]: project(rec) for rec in r.json() if rec["id"] != "********"}
    known: set[str] = set()
    for client in clients:
        for inst in list(client.owned):
            known.add(inst.id)
            seen = found.get(inst.id, DELETED)
            allowed = [inst.state] + ([inst.inflight] if inst.inflight is not None else [])
            if inst.inflight is not None:
                stats.inflight += 1
                stats.inflight_applied += seen == inst.inflight
            if seen not in allowed:
                stats.violations.append(
                    f"cycle {cycle}: instance {inst.id} is {seen}, expected one of {allowed}")
            inst.state, inst.inflight = seen, None
            if seen == DELETED:
                client.owned.remove(inst)
                stats.gone.add(inst.id)
        by_url = client.pending_creates
        stats.inflight += len(by_url)
        for iid, state in found.items():
            if iid not in known and by_url.get(state[2]) == state:
                client.owned.append(Instance(iid, state))
                known.add(iid)
                stats.inflight_applied += 1
        by_url.clear()
    for iid in found.keys() - known:
        kind = "deleted instance came back" if iid in stats.gone else "unknown record"
        stats.violations.append(f"cycle {cycle}: {kind}: {iid} {found[iid]}")


def restart(master: Master, suffix: str, key: str, stats: Stats, cycle: int) -> bool:
    try:
        master.start(url_suffix=suffix)
    except AssertionError as failure:
        stats.violations.append(f"cycle {cycle}: the master did not start: {failure}")
        return False
    if master.key != key or master.key_event != "loaded":
        stats.violations.append(f"cycle {cycle}: API key {master.key_event}, state was lost")
    for line in master.stderr_lines():
        if "restored from backup" in line or "state files unreadable" in line:
            stats.violations.append(f"cycle {cycle}: primary invalid after kill -9: {line}")
        if "state log unreadable" in line or "and was not replayed" in line:
            stats.violations.append(f"cycle {cycle}: change log unusable after kill -9: {line}")
        if re.search(r"Master\.loadState: replayed [1-9]\d* changes from ", line):
            stats.replayed += 1
    return True


def run(workdir: Path, cycles: int = 200, threads: int = 4, seed: int | None = None, log=print,
        after_kill=None) -> Stats:
    """`after_kill(master, cycle)` runs between the kill and the restart: the test suite uses it
    to damage the state on purpose and prove that the checks notice."""
    started = time.monotonic()
    seed = random.randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    runtime = shutil.which("true") or "/bin/true"
    suffix = f"?bin={runtime}"
    stats, lock = Stats(), threading.Lock()
    clients = [Client(n, rng.randrange(2**32), stats, lock) for n in range(threads)]
    master = Master(workdir)
    try:
        master.start(url_suffix=suffix)
        key = master.key
        for cycle in range(1, cycles + 1):
            stop = threading.Event()
            workers = [threading.Thread(target=c.storm, args=(master.port, master.key, master.base, stop))
                       for c in clients]
            for w in workers:
                w.start()
            # The random kill moment is the point of the run, so this one wait is a sleep.
            time.sleep(rng.uniform(0, MAX_KILL_DELAY))
            master.kill9()
            stop.set()
            for w in workers:
                w.join(30)
            if after_kill is not None:
                after_kill(master, cycle)
            if not restart(master, suffix, key, stats, cycle):
                break
            verify(master, clients, stats, cycle)
            stats.cycles = cycle
            if stats.violations:
                break
    finally:
        master.cleanup()
    log(f"torture: seed={seed} cycles={stats.cycles} acknowledged={stats.acknowledged} "
        f"in_flight={stats.inflight} in_flight_applied={stats.inflight_applied} replayed={stats.replayed} "
        f"violations={len(stats.violations)} time={time.monotonic() - started:.1f}s")
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="openctrl-torture-"))
    stats = run(workdir, args.cycles, args.threads, args.seed)
    for v in stats.violations:
        print("VIOLATION:", v)
    if stats.violations or args.keep:
        print(f"work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if stats.violations else 0


if __name__ == "__main__":
    sys.exit(main())
