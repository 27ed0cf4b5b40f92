"""The master caches each record's encoded JSON until the record changes and the whole listing
body until anything listed changes. These tests prove neither cache ever serves a stale record:
after every kind of change (PATCH, checkpoint, stop/start, PUT, DELETE), in the listing, in the
detail route and in the `update` events that share the cache (CONTRACT §8.3–§8.8, §9.1, §12, §13).

The tests rely on causality: a request sent after another one's answer arrived must show a state
at least as new. So "wait until route A shows the change, then read route B once" catches a route
that kept serving the old bytes, and in a quiet moment the listing must be exactly `[` + the detail
bodies in ID order joined by `,` + `]`.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote_plus

from events_helpers import ev  # noqa: F401  (fixture)
from harness import assert_error
from instances_helpers import kit, pids_with  # noqa: F401  (kit: fixture)


# ----- reading both routes ---------------------------------------------------------------------
def detail(m, iid: str) -> bytes:
    """The detail route's JSON object, without its final newline."""
    r = m.api("GET", f"/instances/{iid}")
    assert r.status == 200 and r.body.endswith(b"\n"), r
    return r.body[:-1]


def elements(body: bytes) -> dict[str, bytes]:
    """A listing body cut into its objects' exact bytes, keyed by ID in listed order."""
    assert body.startswith(b"[") and body.endswith(b"]\n"), body[:200]
    text, pos, out = body[1:-2].decode(), 0, {}
    decoder = json.JSONDecoder()
    while pos < len(text):
        obj, end = decoder.raw_decode(text, pos)
        out[obj["id"]] = text[pos:end].encode()
        assert end == len(text) or text[end] == ",", text[end:end + 20]
        pos = end + 1
    return out


def listing(m) -> dict[str, bytes]:
    r = m.api("GET", "/instances")
    assert r.status == 200, r
    out = elements(r.body)
    assert list(out) == sorted(out), list(out)  # byte order of ID, `********` first
    return out


def coherent(m) -> dict[str, bytes]:
    """For a quiet master: the listing equals the detail bodies in ID order, byte for byte."""
    r = m.api("GET", "/instances")
    assert r.status == 200, r
    ids = list(elements(r.body))
    details = [detail(m, i) for i in ids]
    assert r.body == b"[" + b",".join(details) + b"]\n", (r.body, details)
    return dict(zip(ids, details))


def converge(m, iid: str, pred, via: str, timeout: float = 10.0) -> bytes:
    """Poll route `via` until `pred` holds for the record, then read the other route once: it must
    show the very same bytes (the record is quiet by then)."""
    read = {"detail": lambda: detail(m, iid), "listing": lambda: listing(m)[iid]}
    deadline = time.monotonic() + timeout
    while not pred(json.loads(seen := read[via]())):
        assert time.monotonic() < deadline, f"{via} never showed the change: {seen!r}"
        time.sleep(0.02)
    other = read["listing" if via == "detail" else "detail"]()
    assert other == seen, (via, seen, other)
    return seen


def checkpoint(ctl, v: int, ping: int = 5) -> None:
    """Make an `sse_runtime` child print one checkpoint (its `lines` command appends ` 1`)."""
    ctl.send(f"lines 1 CHECK_POINT|MODE=1|PING={ping}ms|POOL=2|TCPS=3|UDPS=4|"
             f"TCPRX={v}|TCPTX={2 * v}|UDPRX={3 * v}|UDPTX={4 * v}")


def frame_instance(frame: dict) -> bytes:
    """The exact bytes of an `initial` or `update` frame's instance object."""
    data = frame["raw"].split(b"data: ", 1)[1].rstrip(b"\n")
    assert data.endswith(b',"logs":""}'), data
    return data[data.index(b',"instance":') + len(b',"instance":'):-len(b',"logs":""}')]


# ----- the tests -------------------------------------------------------------------------------
def test_patch_is_served_fresh_by_listing_and_detail(ev):
    m = ev.start()
    iid, ctl = ev.child(alias="a0")
    quiet, _ = ev.child(alias="quiet")
    checkpoint(ctl, 100)
    converge(m, iid, lambda s: s["tcprx"] == 100, via="detail")
    patches = [
        ({"alias": "a1"}, lambda s: s["alias"] == "a1"),
        ({"meta": {"tags": {"k": "v", "a": "b"}}}, lambda s: s["meta"]["tags"] == {"a": "b", "k": "v"}),
        ({"meta": {"peer": {"sid": "s1"}}}, lambda s: s["meta"]["peer"]["sid"] == "s1"),
        ({"meta": {"tags": {}}}, lambda s: s["meta"]["tags"] == {}),
        ({"restart": False}, lambda s: s["restart"] is False),
        ({"action": "reset"}, lambda s: (s["tcprx"], s["udptx"], s["ping"]) == (0, 0, 5)),
    ]
    for body, pred in patches:
        before = coherent(m)  # both caches primed with the old bytes
        r = m.api("PATCH", f"/instances/{iid}", body=json.dumps(body))
        assert r.status == 200, r
        assert pred(r.json()), (body, r.body)
        after = coherent(m)
        assert after[iid] == r.body[:-1] != before[iid], (body, before[iid], after[iid])
        assert after[quiet] == before[quiet] and after["********"] == before["********"]
    # Restart (the response predates the action): the new run starts with no live metrics
    # (ping 0), and its first checkpoint counts from the displayed value, 0 after the reset.
    old_pids = pids_with(quote_plus(str(ev.ctls[0].path)))
    assert len(old_pids) == 1, old_pids
    assert m.api("PATCH", f"/instances/{iid}", body='{"action":"restart"}').status == 200
    converge(m, iid, lambda s: s["status"] == "running" and s["ping"] == 0, via="listing")
    assert pids_with(quote_plus(str(ev.ctls[0].path))) not in ([], old_pids)  # a new child runs
    ctl.close()  # the old reader is gone; reopen once the new child has opened the FIFO
    checkpoint(ctl, 250, ping=9)
    seen = converge(m, iid, lambda s: s["tcprx"] == 250, via="listing")
    assert json.loads(seen)["ping"] == 9 and json.loads(seen)["udptx"] == 1000, seen
    coherent(m)


def test_checkpoints_are_served_fresh_whichever_route_is_read_first(ev):
    m = ev.start()
    iid, ctl = ev.child(alias="cp")
    ev.child(alias="quiet")
    coherent(m)
    for n, via in enumerate(["detail", "listing", "detail", "listing"], start=1):
        checkpoint(ctl, 1000 * n, ping=n)
        seen = json.loads(converge(m, iid, lambda s: s["tcprx"] == 1000 * n, via=via))
        assert (seen["ping"], seen["tcptx"], seen["udprx"], seen["udptx"]) == \
            (n, 2000 * n, 3000 * n, 4000 * n), seen
        assert json.loads(coherent(m)[iid]) == seen


def test_stop_start_put_delete_are_served_fresh(ev):
    m = ev.start()
    iid, ctl = ev.child(alias="life")
    other, _ = ev.child(alias="other")
    checkpoint(ctl, 40, ping=7)
    converge(m, iid, lambda s: s["ping"] == 7, via="detail")
    coherent(m)
    # Stop: status and live metrics change; start: status changes back.
    assert m.api("PATCH", f"/instances/{iid}", body='{"action":"stop"}').status == 200
    converge(m, iid, lambda s: s["status"] == "stopped" and s["ping"] == 0, via="detail")
    coherent(m)
    assert m.api("PATCH", f"/instances/{iid}", body='{"action":"start"}').status == 200
    converge(m, iid, lambda s: s["status"] == "running", via="listing")
    started_again = coherent(m)
    assert json.loads(started_again[iid])["tcprx"] == 40
    # PUT is synchronous: its answer and both routes carry the new URL at once.
    url = ev.kit.url(ctl=str(ev.ctls[0].path), gen="2")
    r = m.api("PUT", f"/instances/{iid}", body=json.dumps({"url": url}))
    assert r.status == 200 and r.json()["url"] == url and r.json()["status"] == "running", r
    assert listing(m)[iid] == r.body[:-1] == detail(m, iid)
    assert coherent(m)[iid] == r.body[:-1] != started_again[iid]
    # DELETE: gone from the listing and 404 on the detail route right after the 204.
    before = coherent(m)
    assert m.api("DELETE", f"/instances/{iid}").status == 204
    assert_error(m.api("GET", f"/instances/{iid}"), 404, "instance not found")
    after = coherent(m)
    assert iid not in after and after == {k: v for k, v in before.items() if k != iid}
    assert_error(m.api("GET", f"/instances/{iid}"), 404, "instance not found")
    # A record created afterwards is listed at once.
    new, _ = ev.child(alias="new", wait_running=False)
    assert new in listing(m)
    ev.kit.wait_status(new, "running")  # then quiet again
    assert list(coherent(m)) == sorted(["********", other, new])


def test_update_events_carry_the_detail_bytes(ev):
    m = ev.start()
    iid, ctl = ev.child(alias="e0")
    snapshot = coherent(m)
    c = ev.watch_ready()
    assert [frame_instance(f) for f in c.initial] == list(snapshot.values())
    r = m.api("PATCH", f"/instances/{iid}", body='{"alias":"e1","meta":{"tags":{"t":"1"}}}')
    assert r.status == 200, r
    ours = lambda f: f["data"]["type"] == "update" and f["data"]["instance"]["id"] == iid  # noqa: E731
    frame = c.read_until(ours)[-1]
    assert frame["data"]["instance"]["alias"] == "e1"
    assert frame_instance(frame) == r.body[:-1] == detail(m, iid) == listing(m)[iid]
    checkpoint(ctl, 77)
    frame = c.read_until(lambda f: ours(f) and f["data"]["instance"]["tcprx"] == 77)[-1]
    assert frame_instance(frame) == detail(m, iid) == listing(m)[iid]
    assert coherent(m)[iid] == frame_instance(frame)
    c.close()


FLOOD = 300_000  # checkpoints; counters and ping grow with each one


def consistent(obj: dict) -> int:
    """One flood record's counters belong to one checkpoint (never a mix); returns `tcprx`."""
    v = obj["tcprx"]
    if v:
        got = (obj["tcptx"], obj["udprx"], obj["udptx"], obj["ping"])
        assert got == (2 * v, 3 * v, 4 * v, v + 4), obj
        assert obj["status"] == "running", obj
    return v


def test_checkpoint_flood_never_goes_backwards(kit):
    m = kit.start()
    quiet = [kit.create(kit.url(f"q{i}"), alias=f"q{i}")["id"] for i in range(2)]
    for q in quiet:
        kit.wait_status(q, "running")
    kit.patch(quiet[0], {"meta": {"tags": {"role": "quiet"}}})
    base = coherent(m)
    renamed = base[quiet[1]].replace(b'"alias":"q1"', b'"alias":"q1-renamed"')
    assert renamed != base[quiet[1]]
    # The bytes each quiet record may show, in the order they may appear (one rename mid-flood).
    versions = {i: [b] for i, b in base.items()}
    versions[quiet[1]].append(renamed)
    fid = kit.create(kit.url("flood", checkpoints=FLOOD, step=1), alias="flood")["id"]
    stop, errors = threading.Event(), []
    samples: dict[str, list[int]] = {"listing": [], "detail": []}

    def poll() -> None:
        last, seen_version, n = 0, {i: 0 for i in versions}, 0

        def quiet_ok(qid: str, b: bytes) -> None:
            assert b in versions[qid], (qid, b)
            idx = versions[qid].index(b)
            assert idx >= seen_version[qid], (qid, "went back to", b)
            seen_version[qid] = idx

        try:
            while not stop.is_set():
                for route in ("listing", "detail"):
                    if route == "listing":
                        items = listing(m)
                        assert set(items) == set(versions) | {fid}, list(items)
                        for qid, b in items.items():
                            if qid != fid:
                                quiet_ok(qid, b)
                        obj = json.loads(items[fid])
                    else:
                        obj = json.loads(detail(m, fid))
                        qid = list(versions)[n % len(versions)]
                        quiet_ok(qid, detail(m, qid))
                        n += 1
                    v = consistent(obj)
                    assert v >= last, f"{route} went back from {last} to {v}"
                    last = v
                    samples[route].append(v)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        deadline = time.monotonic() + 30
        while not any(0 < v < FLOOD for v in samples["detail"]) and not errors:
            assert time.monotonic() < deadline and poller.is_alive(), "no sample mid-flood"
            time.sleep(0.01)
        # A change to another record in the middle of the flood is served at once.
        r = m.api("PATCH", f"/instances/{quiet[1]}", body='{"alias":"q1-renamed"}')
        assert r.status == 200 and r.body[:-1] == renamed, r
        assert listing(m)[quiet[1]] == renamed == detail(m, quiet[1])
        # The final checkpoint: once the detail route shows it, the listing does too.
        deadline = time.monotonic() + 30
        while consistent(json.loads(final := detail(m, fid))) != FLOOD and not errors:
            assert time.monotonic() < deadline, f"flood not finished: {final!r}"
            time.sleep(0.01)
        assert listing(m)[fid] == final
    finally:
        stop.set()
        poller.join(10)
    assert not errors, errors[0]
    mid = {route: sum(0 < v < FLOOD for v in vs) for route, vs in samples.items()}
    assert mid["listing"] and mid["detail"], mid  # both routes were read during the flood
    after = coherent(m)
    assert after[fid] == final and json.loads(final)["udptx"] == 4 * FLOOD
    assert {i: after[i] for i in versions} == {i: vs[-1] for i, vs in versions.items()}
