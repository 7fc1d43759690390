"""The fault drill: retrying phone-like clients post reports and photos while PostgreSQL, the API and the
media disk fail in turn; afterwards the database and the media store are checked against what the clients
saw acknowledged.

Everything runs on this machine, on loopback: a throwaway PostGIS cluster in /tmp, a throwaway var folder
whose media store is a tmpfs of its own (mounting one needs root; without it the disk-full fault is not
run and the report says so), and ``gridops serve --workers 2`` as production runs it. ``--clients``
threads act like the phone's outbox: each report has a client UUID of its own and is posted until it is
acknowledged (201, or 200 for a retry the server already had), every other one followed by its photo
(the same photo again returns the stored one); a 503 is retried after its ``Retry-After``, a connection
error, a timeout or another 5xx after a growing back-off. The run is split into phases of equal length: a
quiet one, then one per fault, each fault injected at the start of its phase and healed after ``--outage``
seconds; a phase lasts at least until a report is acknowledged again after the heal (bounded):

- PostgreSQL stopped (``pg_ctl stop -m fast``), then started;
- PostgreSQL killed (``kill -9`` of the postmaster), then started;
- one API worker killed (``kill -9``): the server's supervisor must replace it (nothing here restarts it;
  the phase waits for the new worker, bounded);
- the whole API killed (``kill -9`` of every process of the server), then started again, as a service
  manager would;
- the media disk full (a ballast file takes every free byte of the tmpfs), then freed.

Then the clients finish the report in hand (bounded) and stop. Checked: reports acknowledged, lost
(acknowledged, not in the database, or under another code), duplicated (a client UUID with more than one
case), gaps in the case codes (every district's day numbered 1..n with the day counter at n), photos
acknowledged and stored (row present, on its case, its three files present with their checksums), every
answer by kind (5xx other than a 503 with ``Retry-After`` must not happen), and per fault the longest time
with no report (and no photo) acknowledged. Goal: 0 lost, 0 duplicated, 0 gaps, 0 photos lost, 0 5xx other
than 503 with ``Retry-After``.

    .venv/bin/python bench/faults.py [--clients 8] [--seconds 180] [--outage 5]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import results  # bench/results.py, beside this file
from intake import CATEGORY, DISTRICT, PASSWORD, PHONE, photo_bytes, postmaster_pid, prepare, unique
from locate import random_points  # bench/locate.py

from server import migrate
from server.config import PROJECT_DIR
from server.localdb import OWNER_ROLE, Cluster, LocalDBError, free_port

MAX_SECONDS = 900  # the hard cap of a drill, whatever --seconds says
DRAIN_SECONDS = 60  # after the last phase: time left to the clients to finish the report in hand
RECOVERY_SECONDS = 60  # after a heal, a phase lasts until a report is acknowledged again, at most this long
REQUEST_TIMEOUT = 10  # one request, as the phone's
START_TIMEOUT = 60  # the server's start, PostgreSQL's start
MEDIA_SIZE = "1g"  # the media tmpfs (RAM only while used): the ballast fills what the photos left free
BACKOFF = (0.2, 5.0)  # the clients' back-off: first and longest wait, doubling in between, with jitter
RETRY_AFTER_CAP = 10.0


# -- the server --------------------------------------------------------------------------------------


class Api:
    """``gridops serve --workers 2`` on loopback, in a process group of its own (to kill it whole)."""

    def __init__(self, url: str, var_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": url, "GRIDOPS_VAR_DIR": str(var_dir)}
        self.proc: subprocess.Popen | None = None
        self.killed: int | None = None  # the worker kill_worker killed
        self.log = (var_dir / "api.log").open("ab")  # the server's output, shown when it fails to start

    def start(self) -> None:
        gridops = Path(sys.executable).parent / "gridops"
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2"]
        self.proc = subprocess.Popen(
            [str(gridops), *args],
            cwd=PROJECT_DIR,
            env=self.env,
            start_new_session=True,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # up when /health answers (while PostgreSQL is up: it is, when the API starts here)
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = Path(self.log.name).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the API did not start:\n{tail}")
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)

    def workers(self) -> list[int]:
        """The worker processes: the server's children that serve requests (not multiprocessing's
        resource tracker)."""
        found = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*/children"):
            for pid in task.read_text().split():
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                if b"resource_tracker" not in cmdline:
                    found.append(int(pid))
        return found

    def kill_worker(self) -> int:
        pid = self.workers()[0]
        os.kill(pid, signal.SIGKILL)
        self.killed = pid
        return pid

    def await_workers(self) -> str | None:
        """Until the server's supervisor has replaced the killed worker; what went wrong, if it did not."""
        deadline = time.monotonic() + START_TIMEOUT
        while len(workers := self.workers()) < 2 or self.killed in workers:
            if time.monotonic() > deadline:
                return f"NOT replaced within {START_TIMEOUT} s"
            time.sleep(0.05)
        return None

    def kill(self) -> None:
        """Every process of the server at once (kill -9)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=START_TIMEOUT)

    def stop(self) -> None:
        self.log.close()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=START_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the group


def start_postgres(cluster: Cluster) -> None:
    """Start the cluster; after a kill -9 its old backends may hold the shared memory for a moment, and
    the start is tried again until they are gone (bounded)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            cluster.start()
            return
        except LocalDBError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# -- the media disk ----------------------------------------------------------------------------------


class Media:
    """The media store on a tmpfs of its own; ``fill`` takes every free byte, ``free`` gives them back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ballast = path / "ballast"
        path.mkdir(parents=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={MEDIA_SIZE},mode=0755", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        self.mounted = mounted.returncode == 0
        self.why_not = "" if self.mounted else mounted.stderr.strip() or "mount failed"

    def fill(self) -> None:
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 4096, 1):  # megabytes, then the last pages, then the last bytes
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
        finally:
            os.close(fd)

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False)


# -- the clients -------------------------------------------------------------------------------------


@dataclass
class Log:
    """What the clients saw: every answer (time, kind, outcome) and every acknowledgement."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: list[tuple[float, str, str]] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)  # client UUID -> acknowledged case code
    unacknowledged: list[str] = field(default_factory=list)  # sent, never acknowledged (the drill ended)
    photos: list[tuple[int, str, str]] = field(default_factory=list)  # (photo id, case code, sha256 sent)
    photos_unacknowledged: int = 0
    server_errors: list[str] = field(default_factory=list)  # 5xx other than 503 with Retry-After, first few

    def answer(self, kind: str, outcome: str, detail: str = "") -> None:
        with self.lock:
            self.answers.append((time.monotonic(), kind, outcome))
            if outcome.startswith("5") and outcome != "503 Retry-After" and len(self.server_errors) < 20:
                self.server_errors.append(f"{kind} {outcome}: {detail[:200]}")


class Phone:
    """One client: its own connection and login, posting until acknowledged."""

    def __init__(self, base: str, log: Log, stop_at: Callable[[], float]) -> None:
        self.http = httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT)
        self.log, self.stop_at, self.token = log, stop_at, None
        self.device = uuid.uuid4().hex

    def login(self) -> bool:
        body = {"login": PHONE, "password": PASSWORD, "device_id": self.device, "device_name": "fault drill"}
        answer = self.send("login", lambda: self.http.post("/api/auth/login", json=body), authorised=False)
        if answer is None:
            return False
        self.token = answer["access_token"]
        return True

    def send(self, kind: str, request: Callable[[], httpx.Response], authorised: bool = True) -> dict | None:
        """The request's answer once it is a success; None when the drill's time is up first."""
        attempt = 0
        while time.monotonic() < self.stop_at():
            if authorised:
                self.http.headers["Authorization"] = f"Bearer {self.token}"
            wait = min(BACKOFF[0] * 2**attempt, BACKOFF[1]) * random.uniform(0.5, 1.0)
            attempt += 1
            try:
                answer = request()
            except httpx.TimeoutException:
                self.log.answer(kind, "timeout")
            except httpx.TransportError:
                self.log.answer(kind, "connection error")
            else:
                status = answer.status_code
                if status < 300:
                    self.log.answer(kind, "2xx")
                    return answer.json()
                if status == 401 and authorised:
                    self.log.answer(kind, "401")
                    if not self.login():
                        return None
                    continue
                if status == 503 and "retry-after" in answer.headers:
                    self.log.answer(kind, "503 Retry-After")
                    wait = min(float(answer.headers["retry-after"]), RETRY_AFTER_CAP)
                else:
                    self.log.answer(kind, str(status), answer.text)
                    if status < 500:  # refused: retrying the same request cannot help
                        return None
            time.sleep(wait)
        return None

    def run(
        self,
        next_point: Callable[[], tuple[float, float]],
        photo: bytes,
        photo_every: int,
        stop_new: threading.Event,
    ) -> None:
        n = 0
        while not stop_new.is_set():
            lon, lat = next_point()
            body = {"client_uuid": str(uuid.uuid4()), "category": CATEGORY, "lon": lon, "lat": lat}
            acked = self.send("report", lambda body=body: self.http.post("/api/cases", json=body))
            if acked is None:
                with self.log.lock:
                    self.log.unacknowledged.append(body["client_uuid"])
                return
            with self.log.lock:
                self.log.reports[body["client_uuid"]] = acked["code"]
            n += 1
            if n % photo_every:
                continue
            data = unique(photo)
            files = {"file": ("photo.jpg", data, "image/jpeg")}
            path = f"/api/cases/{acked['code']}/photos"
            stored = self.send("photo", lambda path=path, files=files: self.http.post(path, files=files))
            with self.log.lock:
                if stored is None:
                    self.log.photos_unacknowledged += 1
                    return
                self.log.photos.append((stored["id"], acked["code"], hashlib.sha256(data).hexdigest()))

    def close(self) -> None:
        self.http.close()


# -- the drill ---------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    start: float
    end: float = 0.0
    injected: str = ""  # what was done, as done
    healed_after: float | None = None  # seconds from the injection to the heal (None: healed by itself)


def drill(cluster: Cluster, api: Api, media: Media, args, log: Log, points, photo: bytes) -> list[Phase]:
    # (name, inject: says what it did, heal: says what went wrong if anything, heal after --outage seconds)
    faults: list[tuple[str, Callable[[], str], Callable[[], str | None], bool]] = [
        (
            "PostgreSQL stopped",
            lambda: (cluster.stop(), "pg_ctl stop -m fast")[1],
            lambda: start_postgres(cluster),
            True,
        ),
        (
            "PostgreSQL killed",
            lambda: (os.kill(postmaster_pid(cluster), signal.SIGKILL), "kill -9 of the postmaster")[1],
            lambda: start_postgres(cluster),
            True,
        ),
        ("one API worker killed", lambda: f"kill -9 of worker {api.kill_worker()}", api.await_workers, False),
        ("whole API killed", lambda: (api.kill(), "kill -9 of every server process")[1], api.start, True),
    ]
    if media.mounted:
        faults.append(
            ("media disk full", lambda: (media.fill(), "ballast file fills the tmpfs")[1], media.free, True)
        )
    phase_seconds = args.seconds / (1 + len(faults))
    stop_new, hard_stop = threading.Event(), [time.monotonic() + 2 * MAX_SECONDS]
    spots_lock, spots = threading.Lock(), iter(points)

    def next_point() -> tuple[float, float]:
        with spots_lock:
            return next(spots)

    def acknowledged_since(since: float) -> bool:
        with log.lock:
            return any(t > since and k == "report" and o == "2xx" for t, k, o in reversed(log.answers[-200:]))

    phones = [Phone(api.base, log, lambda: hard_stop[0]) for _ in range(args.clients)]
    for phone in phones:  # logged in before the quiet phase starts
        if not phone.login():
            raise RuntimeError("a client could not log in")
    threads = [
        threading.Thread(target=p.run, args=(next_point, photo, args.photo_every, stop_new), daemon=True)
        for p in phones
    ]
    for t in threads:
        t.start()
    phases = [Phase("none (quiet)", time.monotonic())]
    print(f"{'quiet':<24} {phase_seconds:.0f} s", file=sys.stderr)
    time.sleep(phase_seconds)
    for name, inject, heal, outage in faults:
        phases[-1].end = time.monotonic()
        phase = Phase(name, time.monotonic())
        phases.append(phase)
        print(f"{name:<24} injecting ...", file=sys.stderr)
        phase.injected = inject()
        if outage:
            time.sleep(args.outage)
        if trouble := heal():
            phase.injected += f" ({trouble})"
        healed = time.monotonic()
        phase.healed_after = healed - phase.start
        deadline = healed + RECOVERY_SECONDS  # the phase lasts until a report is acknowledged again (bounded)
        while not acknowledged_since(healed) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(max(0.0, phase.start + phase_seconds - time.monotonic()))
    phases[-1].end = time.monotonic()
    stop_new.set()
    hard_stop[0] = time.monotonic() + DRAIN_SECONDS
    print(f"draining (at most {DRAIN_SECONDS} s) ...", file=sys.stderr)
    for t in threads:
        t.join(timeout=max(0.0, hard_stop[0] - time.monotonic()) + REQUEST_TIMEOUT)
    for p in phones:
        p.close()
    return phases


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest stretch of [start, end] with none of ``times`` in it."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return max(b - a for a, b in itertools.pairwise(edges))


# -- the check ---------------------------------------------------------------------------------------


def check(cluster: Cluster, database: str, media_root: Path, log: Log) -> dict:
    conn = cluster.connect(database)
    try:
        with conn.cursor() as cur:
            uuids = list(log.reports)
            cur.execute(
                "SELECT client_uuid::text, code FROM case_file WHERE client_uuid = ANY(%s::uuid[])", (uuids,)
            )
            stored: dict[str, list[str]] = {}
            for client_uuid, code in cur.fetchall():
                stored.setdefault(client_uuid, []).append(code)
            lost = [u for u, code in log.reports.items() if code not in stored.get(u, [])]
            duplicated = [u for u, codes in stored.items() if len(codes) > 1]
            cur.execute(
                "SELECT count(*) FROM case_file WHERE client_uuid = ANY(%s::uuid[])", (log.unacknowledged,)
            )
            (unacknowledged_stored,) = cur.fetchone()
            cur.execute(
                """
                WITH numbered AS (
                    SELECT district_code, to_date(split_part(code, '-', 2), 'YYYYMMDD') AS day,
                           split_part(code, '-', 3)::int AS n
                    FROM case_file
                ), days AS (
                    SELECT district_code, day, count(*) AS cases, count(DISTINCT n) AS numbers, max(n) AS top
                    FROM numbered GROUP BY district_code, day
                )
                SELECT coalesce(sum(d.top - d.numbers), 0) + coalesce(sum(c.last - d.top), 0),
                       coalesce(sum(d.cases - d.numbers), 0), coalesce(sum(d.cases), 0)
                FROM days d LEFT JOIN case_counter c USING (district_code, day)
                """
            )
            gaps, repeated_numbers, cases = cur.fetchone()
            ids = [p[0] for p in log.photos]
            cur.execute(
                """
                SELECT p.id, c.code, p.sha256, p.public_key, p.thumbnail_key FROM case_photo p
                JOIN case_file c ON c.id = p.case_id WHERE p.id = ANY(%s)
                """,
                (ids,),
            )
            rows = {r[0]: r[1:] for r in cur.fetchall()}
            cur.execute("SELECT sha256, public_key, thumbnail_key FROM case_photo")
            referenced = {key for row in cur.fetchall() for key in row}
    finally:
        conn.close()
    photos_lost, files_bad = 0, 0
    for photo_id, code, sent in log.photos:
        row = rows.get(photo_id)
        if row is None or row[0] != code or row[1] != sent:
            photos_lost += 1
            continue
        for key in row[1:]:
            path = media_root / key[:2] / key[2:4] / key
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != key:
                files_bad += 1
    on_disk = {p.name for p in media_root.glob("??/??/*") if p.is_file() and not p.name.startswith(".")}
    return {
        "reports_acknowledged": len(log.reports),
        "reports_lost": len(lost),
        "reports_duplicated": len(duplicated),
        "reports_unacknowledged": len(log.unacknowledged),
        "reports_unacknowledged_stored": unacknowledged_stored,
        "cases": cases,
        "code_gaps": int(gaps),
        "code_repeats": int(repeated_numbers),
        "photos_acknowledged": len(log.photos),
        "photos_lost": photos_lost,
        "photo_files_bad": files_bad,
        "photos_unacknowledged": log.photos_unacknowledged,
        "orphan_files": len(on_disk - referenced),
        "lost_examples": lost[:5],
    }


# -- the report --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="retrying phone-like clients")
    parser.add_argument(
        "--seconds",
        type=float,
        default=180,
        help=f"length of the drill before the drain (at most {MAX_SECONDS})",
    )
    parser.add_argument("--outage", type=float, default=5, help="seconds each healed fault lasts")
    parser.add_argument("--photo-every", type=int, default=2, help="a photo with every n-th report")
    results.add_argument(parser)
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must lie in (0, {MAX_SECONDS}]")

    work = Path(tempfile.mkdtemp(prefix="gridops-faults-", dir="/tmp"))
    work.chmod(0o755)  # the postgres user walks through it to its cluster
    cluster = Cluster(work / "pg")
    var_dir = work / "var"
    media = Media(var_dir / "media")
    api: Api | None = None
    log = Log()
    try:
        print("starting a throwaway PostGIS cluster ...", file=sys.stderr)
        cluster.start()
        database = "bench_faults"
        url = cluster.ensure_database(database)
        migrate.upgrade(cluster.url(database, user=OWNER_ROLE))
        print("loading the demo city, the taxonomy and an inspector ...", file=sys.stderr)
        prepare(url)
        points = random_points(url, DISTRICT, 200_000, seed=13)
        photo = photo_bytes(*points[0], width=800, height=600)
        api = Api(url, var_dir)
        api.start()
        started = time.monotonic()
        phases = drill(cluster, api, media, args, log, points, photo)
        seconds = time.monotonic() - started
        api.stop()
        found = check(cluster, database, var_dir / "media", log)
    finally:
        if api is not None:
            api.stop()
        media.free()
        media.unmount()
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)

    outcomes = Counter((kind, outcome) for _, kind, outcome in log.answers)
    bad = sum(n for (_, o), n in outcomes.items() if o.startswith("5") and o != "503 Retry-After")
    acked = {kind: [t for t, k, o in log.answers if k == kind and o == "2xx"] for kind in ("report", "photo")}
    quiet = phases[0]
    quiet_rate = sum(quiet.start <= t <= quiet.end for t in acked["report"]) / (quiet.end - quiet.start)
    goals = {
        "reports lost": found["reports_lost"],
        "reports duplicated": found["reports_duplicated"],
        "case code gaps": found["code_gaps"] + found["code_repeats"],
        "photos lost": found["photos_lost"] + found["photo_files_bad"],
        "5xx other than 503 with Retry-After": bad,
    }
    with results.table() as printed:
        print(
            f"\nfault drill: {args.clients} retrying clients for {seconds:.0f} s (phases of "
            f"{phases[0].end - phases[0].start:.0f} s, faults healed after {args.outage:g} s), a photo "
            f"({len(photo) / 1024:.0f} KB JPEG, 800 x 600) with one report in {args.photo_every}"
        )
        head = (
            f"{'fault':<24}{'injected':<34}{'healed s':>9}{'reports':>9}{'photos':>8}"
            f"{'no report s':>12}{'no photo s':>11}  answers other than 2xx"
        )
        print(head)
        print("-" * len(head))
        for phase in phases:
            in_phase = [(k, o) for t, k, o in log.answers if phase.start <= t < phase.end and o != "2xx"]
            other = ", ".join(f"{n} {k} {o}" for (k, o), n in Counter(in_phase).most_common()) or "none"
            healed = "-" if phase.healed_after is None else f"{phase.healed_after:.1f}"
            reports = sum(phase.start <= t < phase.end for t in acked["report"])
            photos = sum(phase.start <= t < phase.end for t in acked["photo"])
            print(
                f"{phase.name:<24}{phase.injected or '-':<34}{healed:>9}{reports:>9}{photos:>8}"
                f"{longest_gap(acked['report'], phase.start, phase.end):>12.1f}"
                f"{longest_gap(acked['photo'], phase.start, phase.end):>11.1f}  {other}"
            )
        if not media.mounted:
            print(f"media disk full: NOT RUN, a tmpfs could not be mounted ({media.why_not}); run as root")
        print(
            f"\nreports acknowledged {found['reports_acknowledged']:,}, in the database "
            f"{found['reports_acknowledged'] - found['reports_lost']:,}; cases {found['cases']:,}; "
            f"sent but unacknowledged when the drill ended {found['reports_unacknowledged']} "
            f"({found['reports_unacknowledged_stored']} of them stored)"
        )
        print(
            f"photos acknowledged {found['photos_acknowledged']:,}, files with a bad checksum or missing "
            f"{found['photo_files_bad']}; unacknowledged {found['photos_unacknowledged']}; files no photo "
            f"refers to {found['orphan_files']}"
        )
        print("answers: " + ", ".join(f"{k} {o} {n:,}" for (k, o), n in sorted(outcomes.items())))
        for line in log.server_errors[:5]:
            print(f"  server error: {line}")
        print("\ngoal (each 0): " + ", ".join(f"{k} {v}" for k, v in goals.items()))
    figures = [
        results.Figure(name, value, None, "", goal="0", met=value == 0) for name, value in goals.items()
    ]
    figures.append(
        results.Figure(
            "reports acknowledged per second over the drill",
            len(log.reports) / seconds,
            quiet_rate,
            "reports/s",
            baseline_name="the quiet phase",
        )
    )
    for phase in phases[1:]:
        figures.append(
            results.Figure(
                f"seconds without an acknowledged report: {phase.name}",
                longest_gap(acked["report"], phase.start, phase.end),
                longest_gap(acked["report"], quiet.start, quiet.end),
                "s",
                baseline_name="the quiet phase",
            )
        )
    notes = (
        [] if media.mounted else [f"media disk full not run: a tmpfs could not be mounted ({media.why_not})"]
    )
    results.write(
        args.json,
        measures="reports and photos acknowledged, lost, duplicated, 5xx and seconds unavailable per fault",
        parameters=vars(args),
        figures=figures,
        table=printed,
        notes=notes,
    )
    if any(goals[k] for k in ("reports lost", "reports duplicated", "case code gaps", "photos lost")):
        sys.exit("FAILED: acknowledged reports or photos were lost or duplicated, or case codes have gaps")


if __name__ == "__main__":
    main()
