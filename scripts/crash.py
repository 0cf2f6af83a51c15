#!/usr/bin/env python3
"""Crash harness (issue 25): proves that Daftar loses nothing when killed.

Starts `daftar serve --demo` on a fresh data directory (SQLite) or a scratch
PostgreSQL database, lets several demo officers and the MoITT registry work
through the JSON API (open files, write and sign notes, forward files with a
signed note, diarise receipts, forward and put them up), and `kill -9`s the
server at random moments, restarting it on the same data each time.

Every request answered 2xx is *acknowledged* and recorded with the id it
returned; every created thing carries a unique marker in its text. After
each restart and at the end the harness checks, in the database and through
the API as the officers themselves, that every acknowledged file, note,
signature, movement and receipt is there exactly once (with exactly one
ledger event each), runs `daftar ledger verify`, looks for jobs stuck past
their lease and checks that the search index catches up. A request cut by a
kill is not acknowledged: it is counted as unknown (it may or may not have
happened, but never twice).

    python3 scripts/crash.py                       # both backends, 20 kills each
    python3 scripts/crash.py --backend sqlite --kills 5 --clients 4

Exit status 0 only when nothing was lost or duplicated and every check passed.
Python 3.11 standard library only; PostgreSQL is reached with `psql`.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

PASSWORD = "daftar-demo-2026"
PIN = "246810"
REPO = Path(__file__).resolve().parent.parent

# Officers who work files, and the desk each forwards its new files to.
OFFICERS = ["so.moitt", "ds.moitt", "so.moc", "ds.moc", "so.fin", "ds.fin", "js.moitt", "js.moc"]
PARTNER = {
    "so.moitt": "ds.moitt",
    "ds.moitt": "so.moitt",
    "so.moc": "ds.moc",
    "ds.moc": "so.moc",
    "so.fin": "ds.fin",
    "ds.fin": "so.fin",
    "js.moitt": "so.moitt",
    "js.moc": "so.moc",
}
REGISTRY = "registry.moitt"
# Desks the registry marks receipts to (MoITT officers, who put them up).
DAK_TO = ["so.moitt", "ds.moitt"]

# What is acknowledged, in the order of the table.
KINDS = ["file", "note", "note_sig", "move", "move_sig", "receipt", "dak_move"]
KIND_TITLES = {
    "file": "files",
    "note": "notes",
    "note_sig": "note sigs",
    "move": "moves",
    "move_sig": "move sigs",
    "receipt": "receipts",
    "dak_move": "dak moves",
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_bin() -> str:
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return str(Path(target) / "release" / "daftar")
    cached = Path.home() / ".cache" / "daftar-target" / "release" / "daftar"
    if cached.exists():
        return str(cached)
    return str(REPO / "target" / "release" / "daftar")


# --------------------------------------------------------------------------
# HTTP


class Unknown(Exception):
    """The request may have reached the server, but no full answer came back."""


class Refused(Exception):
    """Nothing listened: the request certainly did not happen."""


class Rejected(Exception):
    """The server answered, but not 2xx."""

    def __init__(self, status: int, body):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Http:
    """One connection per request, to wherever the server listens now."""

    def __init__(self, server: "Server"):
        self.server = server

    def call(self, method: str, path: str, body=None, token: str | None = None, timeout: float = 60):
        host, port = self.server.address
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            try:
                conn.connect()
            except ConnectionRefusedError as e:
                raise Refused(str(e)) from e
            except OSError as e:
                raise Unknown(f"connect: {e}") from e
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                raise Unknown(f"{type(e).__name__}: {e}") from e
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, resp.getheader("Retry-After")


# --------------------------------------------------------------------------
# The server under test and its database


class Database:
    """Direct, read-only SQL on the server's database."""

    def __init__(self, backend: str, sqlite_path: Path | None = None, pg_url: str | None = None):
        self.backend = backend
        self.sqlite_path = sqlite_path
        self.pg_url = pg_url

    def query(self, sql: str) -> list[tuple]:
        if self.backend == "sqlite":
            uri = f"file:{self.sqlite_path}?mode=ro"
            c = sqlite3.connect(uri, uri=True, timeout=60)
            try:
                return [tuple("" if v is None else str(v) for v in row) for row in c.execute(sql)]
            finally:
                c.close()
        out = subprocess.run(
            ["psql", self.pg_url, "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        rows = list(csv.reader(io.StringIO(out.stdout)))
        return [tuple(r) for r in rows[1:]]


class Server:
    def __init__(self, binary: str, backend: str, workdir: Path, pg_url: str | None):
        self.binary = binary
        self.backend = backend
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.pg_url = pg_url
        self.proc: subprocess.Popen | None = None
        self.address = ("127.0.0.1", 0)
        self.starts = 0
        self.up = threading.Event()
        self.log_path = workdir / "server.log"

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAFTAR_")}
        env["DAFTAR_DATA_DIR"] = str(self.data_dir)
        env["DAFTAR_WORKFLOWS_DIR"] = str(REPO / "workflows")
        env["DAFTAR_LOG"] = "info"
        if self.pg_url:
            env["DAFTAR_DATABASE_URL"] = self.pg_url
        return env

    def start(self, demo: bool) -> float:
        """Starts the server and waits for /healthz; returns the seconds it took."""
        t0 = time.monotonic()
        port = free_port()
        self.address = ("127.0.0.1", port)
        env = self.env()
        env["DAFTAR_LISTEN"] = f"127.0.0.1:{port}"
        self.starts += 1
        logf = open(self.log_path, "ab")
        logf.write(f"\n===== start {self.starts} on port {port} {'--demo' if demo else ''} =====\n".encode())
        logf.flush()
        args = [self.binary, "serve"] + (["--demo"] if demo else [])
        self.proc = subprocess.Popen(
            args, cwd=self.workdir, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
        )
        logf.close()
        h = Http(self)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} at start; see {self.log_path}:\n{self.log_tail()}")
            try:
                status, _, _ = h.call("GET", "/healthz", timeout=5)
                if status == 200:
                    self.up.set()
                    return time.monotonic() - t0
            except (Unknown, Refused):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not answer /healthz within 180 s; see {self.log_path}")

    def kill(self) -> None:
        """kill -9, as a power cut or the OOM killer would."""
        self.up.clear()
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        self.up.clear()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, *args], cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=timeout
        )

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# --------------------------------------------------------------------------
# What the clients did


class Record:
    """Acknowledged operations (with the ids returned), unknown and rejected ones."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acks: list[dict] = []
        self.unknown: list[dict] = []
        self.refused = Counter()
        self.rejected = Counter()  # (kind, status, code)
        self.rejected_samples: dict = {}
        self.server_errors: list[str] = []

    def ack(self, kind: str, **fields) -> None:
        with self.lock:
            self.acks.append({"kind": kind, "at": time.time(), **fields})

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.acks)


class Client(threading.Thread):
    def __init__(self, idx: int, user: str, server: Server, record: Record, tag: str, posts: dict, stop: threading.Event, seed: int):
        super().__init__(name=f"client-{idx}-{user}", daemon=True)
        self.idx = idx
        self.user = user
        self.server = server
        self.http = Http(server)
        self.record = record
        self.tag = tag
        self.posts = posts
        self.stop = stop
        self.token: str | None = None
        self.iteration = 0
        self.rng = random.Random(seed)
        self.skip: set[str] = set()
        self.error: str | None = None

    def marker(self) -> str:
        return f"{self.tag}c{self.idx:02d}i{self.iteration:06d}"

    # One request; 2xx returns the body, anything else raises.
    def op(self, kind: str, method: str, path: str, body=None, marker: str | None = None):
        try:
            status, data, _ = self.http.call(method, path, body, self.token)
        except Unknown:
            self.record.unknown.append({"kind": kind, "marker": marker, "path": path, "user": self.user})
            raise
        except Refused:
            self.record.refused[kind] += 1
            raise
        if 200 <= status < 300:
            return data
        code = data.get("error", {}).get("code") if isinstance(data, dict) else None
        with self.record.lock:
            self.record.rejected[(kind, status, code)] += 1
            self.record.rejected_samples.setdefault((kind, status, code), str(data)[:300])
            if status >= 500:
                self.record.server_errors.append(f"{method} {path} as {self.user}: {status} {str(data)[:300]}")
        if status == 401:
            self.token = None
        raise Rejected(status, data)

    def login(self) -> None:
        while not self.stop.is_set():
            self.server.up.wait(5)
            try:
                status, data, retry = self.http.call(
                    "POST", "/api/v1/auth/login", {"username": self.user, "password": PASSWORD}
                )
            except (Unknown, Refused):
                time.sleep(0.1)
                continue
            if status == 200:
                self.token = data["access_token"]
                return
            if status == 429:
                time.sleep(float(retry or 1))
                continue
            raise RuntimeError(f"login of {self.user} answered {status}: {data}")

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.token is None:
                    self.login()
                    continue
                self.iteration += 1
                try:
                    if self.user == REGISTRY:
                        self.registry_round()
                    else:
                        self.officer_round()
                except (Unknown, Refused):
                    # The server died under us: wait for it, log in again, carry on.
                    self.token = None
                    self.server.up.wait(30)
                except Rejected:
                    pass
        except Exception as e:  # a bug of the harness: make it loud
            self.error = f"{type(e).__name__}: {e}"
            log(f"{self.name} stopped: {self.error}")

    def officer_round(self) -> None:
        m = self.marker()
        f = self.op("file", "POST", "/api/v1/files", {"subject": f"Crash test {m}f0"}, m + "f0")
        fid = f["id"]
        self.record.ack("file", id=fid, marker=m + "f0", user=self.user)
        n = self.op("note", "POST", f"/api/v1/files/{fid}/notes", {"body": f"Crash note {m}n1 for the record."}, m + "n1")
        self.record.ack("note", id=n["id"], marker=m + "n1", file_id=fid, user=self.user)
        s = self.op("note_sig", "POST", f"/api/v1/files/{fid}/notes/{n['id']}/sign", {"pin": PIN}, m + "n1")
        if s.get("status") == "signed":
            self.record.ack("note_sig", id=n["id"], marker=m + "n1", file_id=fid, user=self.user)
        if self.user in DAK_TO and self.rng.random() < 0.7:
            self.put_up_receipt(fid, m)
        self.forward(fid, m, 1)
        if self.rng.random() < 0.6:
            inbox = self.op("read", "GET", "/api/v1/inbox?kind=files&limit=50")
            mine = [
                i
                for i in inbox.get("items", [])
                if i.get("from_post") and self.tag in (i.get("subject") or "") and i["id"] not in self.skip
            ]
            if mine:
                g = self.rng.choice(mine)["id"]
                try:
                    self.forward(g, m, 2)
                except Rejected:
                    self.skip.add(g)

    def forward(self, fid: str, m: str, k: int) -> None:
        """Forward with a signed note (noting and marking in one step)."""
        body = {
            "action": "forward",
            "to_post_id": self.posts[PARTNER[self.user]],
            "remarks": f"Crash forward {m}m{k}",
            "note": f"Crash note {m}n{k + 1} submitted.",
            "pin": PIN,
        }
        mv = self.op("move", "POST", f"/api/v1/files/{fid}/movements", body, f"{m}m{k}")
        self.record.ack("move", id=mv["id"], marker=f"{m}m{k}", file_id=fid, user=self.user)
        note = mv.get("note")
        if note:
            self.record.ack("note", id=note["id"], marker=f"{m}n{k + 1}", file_id=fid, user=self.user)
            if note.get("status") == "signed":
                self.record.ack("note_sig", id=note["id"], marker=f"{m}n{k + 1}", file_id=fid, user=self.user)
        if mv.get("signature"):
            self.record.ack("move_sig", id=mv["id"], marker=f"{m}m{k}", file_id=fid, user=self.user)

    def put_up_receipt(self, fid: str, m: str) -> None:
        inbox = self.op("read", "GET", "/api/v1/inbox?kind=receipts&limit=50")
        dak = [i for i in inbox.get("items", []) if self.tag in (i.get("subject") or "") and i["id"] not in self.skip]
        if not dak:
            return
        rid = self.rng.choice(dak)["id"]
        body = {"action": "put_up", "file_id": fid, "remarks": f"Crash put up {m}p0"}
        try:
            r = self.op("dak_move", "POST", f"/api/v1/receipts/{rid}/movements", body, m + "p0")
        except Rejected:
            self.skip.add(rid)
            return
        if r.get("status") == "put_up":
            self.record.ack("dak_move", receipt_id=rid, action="put_up", marker=m + "p0", file_id=fid, user=self.user)

    def registry_round(self) -> None:
        m = self.marker()
        body = {"subject": f"Crash dak {m}r0", "sender": "Crash harness", "mode": "post"}
        r = self.op("receipt", "POST", "/api/v1/receipts", body, m + "r0")
        rid = r["id"]
        self.record.ack("receipt", id=rid, marker=m + "r0", user=self.user, diary_no=r.get("diary_no"))
        to = self.rng.choice(DAK_TO)
        body = {"action": "forward", "to_post_id": self.posts[to], "remarks": f"Crash dak forward {m}d0"}
        self.op("dak_move", "POST", f"/api/v1/receipts/{rid}/movements", body, m + "d0")
        self.record.ack("dak_move", receipt_id=rid, action="forward", marker=m + "d0", user=self.user)
        time.sleep(0.05)


# --------------------------------------------------------------------------
# Checks


class Findings:
    """Lost and duplicated, per kind, with a line for each."""

    def __init__(self):
        self.lost = Counter()
        self.dup = Counter()
        self.lines: list[str] = []

    def lose(self, kind: str, what: str) -> None:
        self.lost[kind] += 1
        self.lines.append(f"LOST {kind}: {what}")

    def duplicate(self, kind: str, what: str) -> None:
        self.dup[kind] += 1
        self.lines.append(f"DUPLICATED {kind}: {what}")

    def other(self, what: str) -> None:
        self.lines.append(what)


LEDGER_KINDS = ("file_created", "note_added", "note_signed", "movement", "movement_signed", "receipt_diarised", "receipt_put_up")


class Checker:
    def __init__(self, server: Server, db: Database, tag: str):
        self.server = server
        self.db = db
        self.tag = tag
        self.http = Http(server)
        self.tokens: dict[str, str] = {}
        self.marker_re = re.compile(re.escape(tag) + r"c\d{2}i\d{6}[a-z]\d")

    def markers(self, text: str) -> list[str]:
        return self.marker_re.findall(text or "")

    # ---- in the database

    def db_state(self) -> dict:
        like = f"'%{self.tag}%'"
        q = self.db.query
        st = {
            "files": q(f"SELECT id, subject, section_id, year, serial FROM files WHERE subject LIKE {like}"),
            "notes": q(f"SELECT id, file_id, status, body FROM notes WHERE body LIKE {like}"),
            "note_sigs": q(
                "SELECT s.note_id FROM note_signatures s JOIN notes n ON n.id = s.note_id "
                f"WHERE n.body LIKE {like}"
            ),
            "moves": q(
                "SELECT id, COALESCE(file_id, ''), COALESCE(receipt_id, ''), action, remarks FROM movements "
                f"WHERE remarks LIKE {like}"
            ),
            "move_sigs": q(
                "SELECT s.movement_id FROM movement_signatures s JOIN movements m ON m.id = s.movement_id "
                f"WHERE m.remarks LIKE {like}"
            ),
            "receipts": q(f"SELECT id, subject, status, COALESCE(file_id, '') FROM receipts WHERE subject LIKE {like}"),
            "serials": q("SELECT section_id, year, serial FROM files"),
            "note_seqs": q(
                "SELECT n.file_id, n.seq FROM notes n JOIN files f ON f.id = n.file_id "
                f"WHERE f.subject LIKE {like}"
            ),
            "move_seqs": q(
                "SELECT m.file_id, m.seq FROM movements m JOIN files f ON f.id = m.file_id "
                f"WHERE f.subject LIKE {like}"
            ),
            "ledger": q(
                "SELECT kind, COALESCE(file_id, ''), COALESCE(receipt_id, ''), payload FROM ledger_events "
                "WHERE kind IN (" + ", ".join(f"'{k}'" for k in LEDGER_KINDS) + ")"
            ),
        }
        return st

    def check_db(self, acks: list[dict], findings: Findings, unknown: list[dict] | None = None) -> dict:
        st = self.db_state()
        by_marker: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        files = {r[0]: r for r in st["files"]}
        for r in st["files"]:
            for mk in self.markers(r[1]):
                by_marker["file"][mk].append(r[0])
        notes = {r[0]: r for r in st["notes"]}
        for r in st["notes"]:
            for mk in self.markers(r[3]):
                by_marker["note"][mk].append(r[0])
        moves = {r[0]: r for r in st["moves"]}
        for r in st["moves"]:
            for mk in self.markers(r[4]):
                by_marker["move"][mk].append(r)
        receipts = {r[0]: r for r in st["receipts"]}
        for r in st["receipts"]:
            for mk in self.markers(r[1]):
                by_marker["receipt"][mk].append(r[0])
        note_sigs = Counter(r[0] for r in st["note_sigs"])
        move_sigs = Counter(r[0] for r in st["move_sigs"])

        # Ledger events by what they name.
        ev = Counter()
        for kind, file_id, receipt_id, payload in st["ledger"]:
            try:
                p = json.loads(payload)
            except ValueError:
                p = {}
            if kind == "file_created":
                ev[(kind, file_id)] += 1
            elif kind in ("note_added", "note_signed"):
                ev[(kind, p.get("note_id"))] += 1
            elif kind in ("movement", "movement_signed"):
                ev[(kind, p.get("movement_id"))] += 1
            elif kind == "receipt_diarised":
                ev[(kind, receipt_id)] += 1
            elif kind == "receipt_put_up":
                ev[(kind, receipt_id)] += 1

        def ledger_once(kind: str, event: str, key: str, what: str) -> None:
            n = ev[(event, key)]
            if n == 0:
                findings.lose(kind, f"{what}: no `{event}` ledger event")
            elif n > 1:
                findings.duplicate(kind, f"{what}: {n} `{event}` ledger events")

        # Duplicates: any marker in more than one row, acknowledged or not.
        for kind in ("file", "note", "receipt"):
            for mk, ids in by_marker[kind].items():
                if len(ids) > 1:
                    findings.duplicate(kind, f"marker {mk} in {len(ids)} rows: {ids}")
        for mk, rows in by_marker["move"].items():
            on_files = [r for r in rows if r[1]]
            on_receipts = [r for r in rows if r[2]]
            # A put up is one movement of the receipt and one of the file.
            kind = "dak_move" if mk[-2] in "pd" else "move"
            if len(on_files) > 1 or len(on_receipts) > 1 or (mk[-2] in "md" and len(rows) > 1):
                findings.duplicate(kind, f"marker {mk} in {len(rows)} movements: {[r[0] for r in rows]}")
        for note_id, n in note_sigs.items():
            if n > 1:
                findings.duplicate("note_sig", f"note {note_id} has {n} signatures")

        # Every acknowledged thing, exactly once.
        for a in acks:
            k, mk = a["kind"], a["marker"]
            if k == "file":
                if a["id"] not in files:
                    findings.lose(k, f"file {a['id']} ({mk}) not in the database")
                    continue
                ledger_once(k, "file_created", a["id"], f"file {a['id']}")
            elif k == "note":
                r = notes.get(a["id"])
                if r is None or mk not in self.markers(r[3]) or r[1] != a["file_id"]:
                    findings.lose(k, f"note {a['id']} ({mk}) on file {a['file_id']}: {'missing' if r is None else 'different'}")
                    continue
                ledger_once(k, "note_added", a["id"], f"note {a['id']}")
            elif k == "note_sig":
                r = notes.get(a["id"])
                if r is None or r[2] != "signed" or note_sigs[a["id"]] != 1:
                    findings.lose(k, f"signature of note {a['id']} ({mk}): status {r[2] if r else 'no note'}, {note_sigs[a['id']]} signatures")
                    continue
                ledger_once(k, "note_signed", a["id"], f"signature of note {a['id']}")
            elif k == "move":
                r = moves.get(a["id"])
                if r is None or r[1] != a["file_id"] or mk not in self.markers(r[4]):
                    findings.lose(k, f"movement {a['id']} ({mk}) of file {a['file_id']}")
                    continue
                ledger_once(k, "movement", a["id"], f"movement {a['id']}")
            elif k == "move_sig":
                if move_sigs[a["id"]] != 1:
                    findings.lose(k, f"signature of movement {a['id']} ({mk})")
                    continue
                ledger_once(k, "movement_signed", a["id"], f"signature of movement {a['id']}")
            elif k == "receipt":
                if a["id"] not in receipts:
                    findings.lose(k, f"receipt {a['id']} ({mk}) not in the database")
                    continue
                ledger_once(k, "receipt_diarised", a["id"], f"receipt {a['id']}")
            elif k == "dak_move":
                rows = by_marker["move"].get(mk, [])
                on_receipt = [r for r in rows if r[2] == a["receipt_id"]]
                if len(on_receipt) != 1:
                    findings.lose(k, f"{a['action']} of receipt {a['receipt_id']} ({mk}): {len(on_receipt)} movements")
                    continue
                ledger_once(k, "movement", on_receipt[0][0], f"{a['action']} of receipt {a['receipt_id']}")
                if a["action"] == "put_up":
                    on_file = [r for r in rows if r[1] == a["file_id"]]
                    rec = receipts.get(a["receipt_id"])
                    if len(on_file) != 1 or rec is None or rec[2] != "put_up" or rec[3] != a["file_id"]:
                        findings.lose(k, f"put up of receipt {a['receipt_id']} in file {a['file_id']} ({mk}): receipt {rec}, {len(on_file)} file movements")
                        continue
                    ledger_once(k, "movement", on_file[0][0], f"put up of receipt {a['receipt_id']} (file side)")
                    ledger_once(k, "receipt_put_up", a["receipt_id"], f"put up of receipt {a['receipt_id']}")

        # File numbers gap-free per section and year; notes and movements
        # numbered 1..n on each file.
        serials = defaultdict(list)
        for section, year, serial in st["serials"]:
            serials[(section, year)].append(int(serial))
        for key, got in serials.items():
            if sorted(got) != list(range(1, len(got) + 1)):
                missing = sorted(set(range(1, max(got) + 1)) - set(got))
                twice = sorted(n for n, c in Counter(got).items() if c > 1)
                findings.other(
                    f"file numbers of section {key[0]}, {key[1]} not 1..{len(got)}: "
                    f"missing {missing[:10]}, twice {twice[:10]}, above {[n for n in got if n > len(got)][:10]}"
                )
        for name, rows in (("notes", st["note_seqs"]), ("movements", st["move_seqs"])):
            seqs = defaultdict(list)
            for fid, seq in rows:
                seqs[fid].append(int(seq))
            for fid, got in seqs.items():
                if sorted(got) != list(range(1, len(got) + 1)):
                    findings.other(f"{name} of file {fid} numbered {sorted(got)}")

        # What became of the requests cut by a kill (for the report).
        outcome = Counter()
        for u in unknown or []:
            mk, kind = u.get("marker"), u["kind"]
            if not mk or kind in ("read",):
                continue
            table = {"file": "file", "note": "note", "receipt": "receipt", "move": "move", "dak_move": "move"}.get(kind)
            if table is None:  # a signature: its note's state tells
                done = any(notes[n][2] == "signed" for n in by_marker["note"].get(mk, []))
            else:
                done = bool(by_marker[table].get(mk))
            outcome["done" if done else "not done"] += 1
        return {"outcome": outcome, "rows": {k: len(st[k]) for k in ("files", "notes", "moves", "receipts")}}

    def jobs(self) -> list[tuple]:
        return self.db.query(
            "SELECT id, kind, status, attempts, run_at, COALESCE(locked_until, -1), COALESCE(last_error, '') FROM jobs"
        )

    def stuck_jobs(self, grace_s: float) -> list[tuple]:
        """Jobs still `running` more than grace_s after their lease ran out."""
        now = time.time() * 1e6
        return [j for j in self.jobs() if j[2] == "running" and int(j[5]) < now - grace_s * 1e6]

    def unsealed(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM ledger_events WHERE position IS NULL")[0][0])

    # ---- through the API

    def token(self, user: str, fresh: bool = False) -> str:
        if fresh or user not in self.tokens:
            for _ in range(100):
                try:
                    status, data, retry = self.http.call(
                        "POST", "/api/v1/auth/login", {"username": user, "password": PASSWORD}
                    )
                except (Unknown, Refused):
                    time.sleep(0.2)
                    continue
                if status == 200:
                    self.tokens[user] = data["access_token"]
                    break
                time.sleep(float(retry or 1))
            else:
                raise RuntimeError(f"checker cannot log in as {user}")
        return self.tokens[user]

    def get(self, user: str, path: str):
        for fresh in (False, True):
            status, data, _ = self.http.call("GET", path, token=self.token(user, fresh))
            if status != 401:
                return status, data
        return status, data

    def check_api(self, acks: list[dict], findings: Findings) -> int:
        """Reads every acknowledged thing back as the officer who made it."""
        views: dict = {}
        timelines: dict = {}
        receipts: dict = {}
        calls = 0

        def view(fid, user):
            nonlocal calls
            if (fid, user) not in views:
                calls += 1
                views[(fid, user)] = self.get(user, f"/api/v1/files/{fid}")
            return views[(fid, user)]

        def timeline(fid, user):
            nonlocal calls
            if (fid, user) not in timelines:
                calls += 1
                timelines[(fid, user)] = self.get(user, f"/api/v1/files/{fid}/movements")
            return timelines[(fid, user)]

        def receipt(rid, user):
            nonlocal calls
            if (rid, user) not in receipts:
                calls += 1
                receipts[(rid, user)] = self.get(user, f"/api/v1/receipts/{rid}")
            return receipts[(rid, user)]

        for a in acks:
            k, mk, user = a["kind"], a["marker"], a["user"]
            if k == "file":
                s, f = view(a["id"], user)
                if s != 200 or mk not in f.get("subject", ""):
                    findings.lose(k, f"API: GET /files/{a['id']} as {user} answered {s}")
            elif k in ("note", "note_sig"):
                s, f = view(a["file_id"], user)
                if s != 200:
                    findings.lose(k, f"API: GET /files/{a['file_id']} as {user} answered {s}")
                    continue
                same = [n for n in f.get("notes", []) if n.get("id") == a["id"]]
                marked = [n for n in f.get("notes", []) if mk in self.markers(n.get("body", ""))]
                if len(same) != 1:
                    findings.lose(k, f"API: note {a['id']} ({mk}) shown {len(same)} times on file {a['file_id']}")
                elif len(marked) > 1:
                    findings.duplicate(k, f"API: {len(marked)} notes with {mk} on file {a['file_id']}")
                elif k == "note_sig" and (same[0].get("status") != "signed" or not same[0].get("signature")):
                    findings.lose(k, f"API: note {a['id']} shown {same[0].get('status')} without its signature")
            elif k in ("move", "move_sig"):
                s, t = timeline(a["file_id"], user)
                if s != 200:
                    findings.lose(k, f"API: GET /files/{a['file_id']}/movements as {user} answered {s}")
                    continue
                same = [m for m in t.get("items", []) if m.get("id") == a["id"]]
                marked = [m for m in t.get("items", []) if mk in self.markers(m.get("remarks") or "")]
                if len(same) != 1:
                    findings.lose(k, f"API: movement {a['id']} shown {len(same)} times")
                elif len(marked) > 1:
                    findings.duplicate(k, f"API: {len(marked)} movements with {mk}")
                elif k == "move_sig" and not same[0].get("signature"):
                    findings.lose(k, f"API: movement {a['id']} shown without its signature")
            elif k == "receipt":
                s, r = receipt(a["id"], user)
                if s != 200 or mk not in r.get("subject", ""):
                    findings.lose(k, f"API: GET /receipts/{a['id']} as {user} answered {s}")
            elif k == "dak_move" and a["action"] == "put_up":
                s, r = receipt(a["receipt_id"], user)
                if s != 200 or r.get("status") != "put_up" or (r.get("file") or {}).get("id") != a["file_id"]:
                    findings.lose(k, f"API: receipt {a['receipt_id']} as {user}: {s} {str(r)[:200]}")
                    continue
                s, f = view(a["file_id"], user)
                got = [x for x in (f.get("receipts", []) if s == 200 else []) if x.get("id") == a["receipt_id"]]
                if len(got) != 1:
                    findings.lose(k, f"API: file {a['file_id']} lists receipt {a['receipt_id']} {len(got)} times")
            elif k == "dak_move":
                s, r = receipt(a["receipt_id"], user)
                if s != 200:
                    findings.lose(k, f"API: receipt {a['receipt_id']} as {user} answered {s}")
        return calls

    def search_finds(self, note: dict, within_s: float) -> float | None:
        """Seconds until GET /search finds the note's marker, or None."""
        mk = note["marker"]
        t0 = time.monotonic()
        while True:
            s, r = self.get(note["user"], f"/api/v1/search?q={mk}&kind=note")
            if s == 200 and any(i.get("file_id") == note["file_id"] for i in r.get("items", [])):
                return time.monotonic() - t0
            if time.monotonic() - t0 > within_s:
                return None
            time.sleep(0.2)

    def ledger_verify(self) -> tuple[int, str]:
        out = self.server.cli("ledger", "verify")
        text = (out.stdout + out.stderr).strip()
        return out.returncode, text


# --------------------------------------------------------------------------
# One backend


def run_backend(backend: str, args) -> dict:
    tag = "cr" + "".join(random.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(6))
    workdir = Path(tempfile.mkdtemp(prefix=f"daftar-crash-{backend}-"))
    pg_url = None
    dbname = None
    if backend == "postgres":
        dbname = f"daftar_crash_{os.getpid()}"
        admin = args.pg_admin_url
        out = subprocess.run(
            ["psql", admin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", f"DROP DATABASE IF EXISTS {dbname}", "-c", f"CREATE DATABASE {dbname}"],
            capture_output=True, text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"cannot create the scratch database: {out.stderr.strip()}")
        pg_url = admin.rsplit("/", 1)[0] + "/" + dbname
    server = Server(args.bin, backend, workdir, pg_url)
    db = Database(backend, sqlite_path=server.data_dir / "daftar.db", pg_url=pg_url)
    checker = Checker(server, db, tag)
    record = Record()
    findings = Findings()
    checks: list[tuple[str, bool, str]] = []
    stop = threading.Event()
    clients: list[Client] = []
    result = {"backend": backend, "kills": 0, "acked": Counter(), "lost": 0, "dup": 0, "ledger": "not run", "ok": False}
    t_start = time.monotonic()
    log(f"{backend}: work dir {workdir}, marker {tag}, {args.kills} kills, {args.clients} clients")
    try:
        took = server.start(demo=True)
        log(f"{backend}: first start with --demo took {took:.1f}s")
        users = [REGISTRY] + [OFFICERS[i % len(OFFICERS)] for i in range(max(args.clients - 1, 0))]
        users = users[: args.clients]
        posts = {}
        for u in set(users) | {PARTNER[u] for u in users if u in PARTNER} | set(DAK_TO):
            s, me = checker.get(u, "/api/v1/me")
            posts[u] = next(p["id"] for p in me["posts"] if p.get("primary")) if s == 200 else None
        for i, u in enumerate(users):
            c = Client(i, u, server, record, tag, posts, stop, seed=args.seed * 1000 + i)
            clients.append(c)
            c.start()

        restart_times, verify_times, search_lags = [], [], []
        per_restart_ledger_fail = []
        max_stuck = 0
        api_done = 0
        for k in range(1, args.kills + 1):
            time.sleep(random.uniform(args.min_gap, args.max_gap))
            before = record.snapshot()
            last_note = next((a for a in reversed(before) if a["kind"] == "note_sig"), None)
            server.kill()
            result["kills"] = k
            took = server.start(demo=False)
            restart_times.append(took)
            # Everything acknowledged before the kill must be there, once.
            f = Findings()
            info = checker.check_db(before, f)
            stuck = checker.stuck_jobs(grace_s=30)
            max_stuck = max(max_stuck, len(stuck))
            t0 = time.monotonic()
            rc, text = checker.ledger_verify()
            verify_times.append(time.monotonic() - t0)
            if rc != 0:
                per_restart_ledger_fail.append(f"after kill {k}: exit {rc}: {text[-500:]}")
            calls = checker.check_api(before[api_done:][-80:], f)
            api_done = len(before)
            lag = checker.search_finds(last_note, 30) if last_note else 0.0
            if lag is None:
                f.other(f"search did not find note {last_note['id']} ({last_note['marker']}) within 30 s of restart {k}")
            else:
                search_lags.append(lag)
            findings.lost.update(f.lost)
            findings.dup.update(f.dup)
            findings.lines += [f"after kill {k}: {line}" for line in f.lines]
            acked = Counter(a["kind"] for a in before)
            log(
                f"{backend}: kill {k}/{args.kills}: restarted in {took:.1f}s; acked so far "
                + ", ".join(f"{KIND_TITLES[x]} {acked[x]}" for x in KINDS)
                + f"; lost {sum(f.lost.values())}, dup {sum(f.dup.values())}; ledger verify {'ok' if rc == 0 else 'FAILED'}"
                + f"; {calls} API reads; search {'%.2fs' % lag if lag is not None else 'MISSING'}"
                + (f"; {len(stuck)} jobs past lease" if stuck else "")
                + (f"; {len(f.lines)} problems" if f.lines else "")
            )
            for line in f.lines[:10]:
                log(f"    {line}")

        # Work a little on the last server, then stop the clients.
        time.sleep(args.max_gap)
        stop.set()
        for c in clients:
            c.join(timeout=120)
        for c in clients:
            if c.error:
                checks.append((f"client {c.name} ran to the end", False, c.error))
        log(f"{backend}: clients stopped; final checks")

        # The job queue drains: jobs a killed server held are taken again once their lease runs out.
        t0 = time.monotonic()
        while True:
            jobs = checker.jobs()
            now = time.time() * 1e6
            pending = [j for j in jobs if j[2] == "running" or (j[2] == "queued" and int(j[4]) <= now)]
            if not pending or time.monotonic() - t0 > args.job_wait:
                break
            time.sleep(1)
        dead = [j for j in jobs if j[2] == "dead"]
        stuck = checker.stuck_jobs(grace_s=5)
        drained = time.monotonic() - t0
        checks.append(
            (
                "job queue drained, none dead, none stuck past its lease",
                not pending and not dead and not stuck and max_stuck == 0,
                f"{len(jobs)} left ({Counter(j[2] for j in jobs)}), drained in {drained:.0f}s; "
                f"most ever running >30 s past lease: {max_stuck}"
                + (f"; dead: {[(j[1], j[6][:100]) for j in dead[:3]]}" if dead else "")
                + (f"; pending: {[(j[1], j[2], j[3]) for j in pending[:5]]}" if pending else ""),
            )
        )

        # Search has caught up: the last acknowledged note is found, and a sample of the others.
        acks = record.snapshot()
        signed = [a for a in acks if a["kind"] == "note_sig"]
        t0 = time.monotonic()
        ready = None
        while time.monotonic() - t0 < 60:
            s, body, _ = checker.http.call("GET", "/readyz")
            if s == 200:
                ready = body
                break
            time.sleep(0.5)
        sample = signed[-1:] + random.sample(signed[:-1], min(20, max(len(signed) - 1, 0)))
        missing = [a["marker"] for a in sample if checker.search_finds(a, 30 if a is sample[0] else 5) is None]
        checks.append(
            (
                "search caught up (readyz, last note and 20 others found)",
                ready is not None and not missing and bool(sample),
                f"readyz {json.dumps(ready['search']) if ready else 'never ready'}; missing {missing}",
            )
        )
        checks.append(("every ledger event sealed", checker.unsealed() == 0, f"{checker.unsealed()} unsealed"))

        # Everything acknowledged, exactly once: in the database and through the API.
        f = Findings()
        info = checker.check_db(acks, f, record.unknown)
        calls = checker.check_api(acks, f)
        findings.lost.update(f.lost)
        findings.dup.update(f.dup)
        findings.lines += [f"final: {line}" for line in f.lines]
        checks.append(("final check in the database and through the API", not f.lines, f"{calls} API reads; {len(f.lines)} problems"))
        checks.append(
            (
                "every restart's check passed",
                not [line for line in findings.lines if not line.startswith("final:")],
                f"{len([line for line in findings.lines if not line.startswith('final:')])} problems after restarts",
            )
        )
        checks.append(
            ("ledger verify after each restart", not per_restart_ledger_fail, "; ".join(per_restart_ledger_fail[:3]))
        )
        server.stop()
        rc, text = checker.ledger_verify()
        result["ledger"] = "ok" if rc == 0 else f"exit {rc}"
        checks.append(("daftar ledger verify at the end", rc == 0, text.splitlines()[-1] if text else ""))
        panics = [line for line in server.log_path.read_text(errors="replace").splitlines() if "panicked" in line]
        checks.append(("no panic in the server's log", not panics, "; ".join(panics[:3])))
        checks.append(
            ("no 5xx answer", not record.server_errors, "; ".join(record.server_errors[:3]))
        )

        result["acked"] = Counter(a["kind"] for a in acks)
        result["unknown"] = len([u for u in record.unknown if u["kind"] != "read"])
        result["unknown_outcome"] = info["outcome"]
        result["refused"] = sum(record.refused.values())
        result["rejected"] = dict(record.rejected)
        result["rejected_samples"] = record.rejected_samples
        result["restart_s"] = (min(restart_times), sum(restart_times) / len(restart_times), max(restart_times)) if restart_times else None
        result["verify_s"] = max(verify_times) if verify_times else None
        result["search_s"] = max(search_lags) if search_lags else None
    except Exception as e:
        checks.append(("harness ran to the end", False, f"{type(e).__name__}: {e}"))
        import traceback

        traceback.print_exc()
    finally:
        stop.set()
        server.kill()
        if dbname:
            subprocess.run(
                ["psql", args.pg_admin_url, "-X", "-q", "-c", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"],
                capture_output=True, text=True,
            )
    result["lost"] = sum(findings.lost.values())
    result["dup"] = sum(findings.dup.values())
    result["lost_by_kind"] = findings.lost
    result["dup_by_kind"] = findings.dup
    result["problems"] = findings.lines
    result["checks"] = checks
    result["seconds"] = time.monotonic() - t_start
    result["ok"] = result["lost"] == 0 and result["dup"] == 0 and all(ok for _, ok, _ in checks) and result["kills"] == args.kills
    result["workdir"] = str(workdir)
    if result["ok"] and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def print_report(results: list[dict]) -> None:
    cols = ["backend", "kills"] + [KIND_TITLES[k] for k in KINDS] + ["unknown", "lost", "duplicated", "ledger verify", "checks", "time"]
    rows = []
    for r in results:
        passed = sum(1 for _, ok, _ in r["checks"] if ok)
        rows.append(
            [r["backend"], str(r["kills"])]
            + [str(r["acked"].get(k, 0)) for k in KINDS]
            + [
                str(r.get("unknown", "?")),
                str(r["lost"]),
                str(r["dup"]),
                r["ledger"],
                f"{passed}/{len(r['checks'])}",
                f"{r['seconds']:.0f}s",
            ]
        )
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    print()
    print(line(cols))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print()
    for r in results:
        print(f"{r['backend']}:")
        if r.get("restart_s"):
            lo, avg, hi = r["restart_s"]
            print(f"  restart to /healthz: {lo:.2f}–{hi:.2f}s (mean {avg:.2f}s); slowest ledger verify {r['verify_s']:.2f}s; slowest search catch-up {r['search_s']:.2f}s")
        if "unknown" in r:
            print(
                f"  requests cut by a kill: {r['unknown']} ({dict(r['unknown_outcome'])}); refused while down: {r['refused']}"
            )
        if r.get("rejected"):
            print("  answered non-2xx: " + ", ".join(f"{k[0]} {k[1]} {k[2]}: {n}" for k, n in sorted(r["rejected"].items(), key=str)))
        for name, ok, detail in r["checks"]:
            print(f"  [{'ok' if ok else 'FAIL'}] {name}" + (f": {detail}" if detail else ""))
        if r["lost"] or r["dup"]:
            print(f"  lost by kind {dict(r['lost_by_kind'])}, duplicated by kind {dict(r['dup_by_kind'])}")
        for p in r["problems"][:40]:
            print(f"  {p}")
        if not r["ok"]:
            print(f"  kept for inspection: {r['workdir']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--kills", type=int, default=20, help="kill -9 the server this many times per backend (default 20)")
    ap.add_argument("--clients", type=int, default=6, help="client threads: the MoITT registry and officers (default 6)")
    ap.add_argument("--bin", default=default_bin(), help="the daftar binary (default: release build under $CARGO_TARGET_DIR or ~/.cache/daftar-target)")
    ap.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres", help="where the scratch database is created")
    ap.add_argument("--min-gap", type=float, default=1.0, help="shortest time between restart and kill, seconds")
    ap.add_argument("--max-gap", type=float, default=4.0, help="longest time between restart and kill, seconds")
    ap.add_argument("--job-wait", type=float, default=120, help="how long the job queue may take to drain at the end, seconds")
    ap.add_argument("--seed", type=int, default=int(time.time()), help="random seed (kill times, choices)")
    ap.add_argument("--keep", action="store_true", help="keep the data directories even when everything passed")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        print(f"no daftar binary at {args.bin} (build with `cargo build --release` or pass --bin)", file=sys.stderr)
        return 2
    random.seed(args.seed)
    log(f"binary {args.bin}, seed {args.seed}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [run_backend(b, args) for b in backends]
    print_report(results)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
