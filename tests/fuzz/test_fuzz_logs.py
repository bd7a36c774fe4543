"""Property-based fuzzing of the log reader and of ``caffecx log``'s outputs (issue 11).

* `parse_log` on mutated real logs (cut, duplicated spans, flipped bytes, inserted garbage lines):
  a `CaffeLog` or a `CaffecxError`, never another exception, never a hang (each parse timed, and an
  alarm fails a parse that does not end).
* ``caffecx log`` with ``--csv``/``--plot`` targets that cannot be written (alone, or beside a good one):
  exit 2 with a ``caffecx: ...`` message, and the folder exactly as it was.
"""

from __future__ import annotations

import contextlib
import io
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from outputkit import playground, snapshot
from paths import CORPUS, LENET

from caffecx.cli import main
from caffecx.errors import CaffecxError
from caffecx.logs import CaffeLog, parse_log

FUZZ = settings(max_examples=50, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

LENET_LOG = LENET / "lenet_train.log"
REAL = [LENET_LOG.read_bytes(),
        (CORPUS / "logs" / "bvlc-caffe-docs__mnist_2014.log").read_bytes(),
        (CORPUS / "logs" / "caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log").read_bytes()[:40000]]
GARBAGE_LINES = [b"\x00\x01\x02\xff\xfe binary \x00", b"I1203 ", b"I1203 10:00:00.000000", b"F", b"] ] ] :",
                 b"I0101 00:00:00.000000  1 solver.cpp:1] Iteration 99999999999999999999999, loss = nan",
                 b"I0101 00:00:00.000000  1 net.cpp:1] Top shape: -1 99999999999999999999 (0)",
                 b"I0101 00:00:00.000000  1 net.cpp:1] Memory required for data: -5",
                 b"    Test net output #0: accuracy = 1e999", b"layer {", b"}" * 50, "\u00e9\u4e2d".encode("gbk"),
                 b"\r", b"x" * 5000]


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def hang(signum: int, frame: object) -> None:
        raise AssertionError(f"parse_log did not end within {seconds} s (a hang)")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@st.composite
def mutated_logs(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "duplicate", "flip", "garbage"]))
        n = len(data)
        if n == 0:
            break
        at = draw(st.integers(0, n - 1))
        if op == "cut":
            data = data[:at] if draw(st.booleans()) else data[at:]
        elif op == "duplicate":
            end = min(n, at + draw(st.integers(1, 4000)))
            data[at:at] = data[at:end] * draw(st.integers(1, 3))
        elif op == "flip":
            for _ in range(draw(st.integers(1, 20))):
                k = draw(st.integers(0, len(data) - 1))
                data[k] = draw(st.integers(0, 255))
        else:
            line = draw(st.sampled_from(GARBAGE_LINES)) + draw(st.binary(max_size=40))
            k = data.find(b"\n", at)
            k = len(data) if k < 0 else k + 1
            data[k:k] = line + b"\n"
    return bytes(data)


@FUZZ
@given(data=mutated_logs(), as_file=st.booleans())
def test_parse_log_on_mutated_logs_gives_a_log_or_a_caffecx_error(data: bytes, as_file: bool) -> None:
    start = time.perf_counter()
    with _alarm(20), tempfile.TemporaryDirectory() as tmp:
        source: bytes | Path = data
        if as_file:
            source = Path(tmp) / "mutated.log"
            source.write_bytes(data)
        try:
            log = parse_log(source, workers=1)
        except CaffecxError as err:
            assert str(err) and "Traceback" not in str(err)
        else:
            assert isinstance(log, CaffeLog) and log.glog_lines > 0
            log.summary()
            log.csv_tables()  # the --csv tables of whatever was parsed
    assert time.perf_counter() - start < 10


#: Targets that cannot be written, relative to a folder holding the file ``afile`` and the folder ``adir``.
BAD_CSV = ["afile", "afile/sub", "afile/a/b", "x\0y", "adir/afile2", "adir/afile2/q"]
BAD_PLOT = ["x.xyz", "adir", "adir/", "afile/x.png", "afile/sub/x.svg", "x\0y.png", "", "plots/x", "adir/.",
            "afile/..", "adir/afile2/p.png", "new/deeper/p.txt"]






def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@FUZZ
@given(csv=st.sampled_from([None, "new_csv", "adir", *BAD_CSV]), plot=st.sampled_from([None, "new/p.png", *BAD_PLOT]),
       fmt=st.sampled_from([[], ["--format", "json"]]))
def test_log_outputs_that_cannot_be_written_leave_nothing(csv: str | None, plot: str | None, fmt: list[str]) -> None:
    bad = (csv in BAD_CSV) or (plot in BAD_PLOT)
    argv = ["log", str(LENET_LOG), *fmt]
    argv += ["--csv", csv] if csv is not None else []
    argv += ["--plot", plot] if plot is not None else []
    with playground() as root:
        before = snapshot(root)
        status, out, err = _run(argv)
        if not bad:
            assert status == 0, err
            return
        assert status == 2, (argv, err)
        assert err.startswith("caffecx: ") and "Traceback" not in err and err.count("\n") == 1
        assert out == ""
        assert snapshot(root) == before
