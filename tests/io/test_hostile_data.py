"""Issue 11's data-source reproductions: sources named by a prototxt are untrusted.

Only regular files are opened (a folder only as an LMDB), nothing blocks (a FIFO), reads are bounded
(/dev/zero), every read or decode failure is a located ``layer 'x': ...`` error (exit 2 in the CLI), and
no message quotes a file's content (/etc/passwd as a list).
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from datakit import write_lmdb
from PIL import Image

from caffecx.cli import main
from caffecx.errors import CaffecxError, ShapeError
from caffecx.graph import load_net
from caffecx.proto import caffe_pb2

PASSWD = Path("/etc/passwd")
TIMEOUT = 20


def png(width: int = 6, height: int = 5) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def image_net(source: str | Path, extra: str = "") -> str:
    return (f'name: "n"\nlayer {{\n  name: "img"\n  type: "ImageData"\n  top: "data"\n  top: "label"\n'
            f'  image_data_param {{ source: "{source}" batch_size: 2 {extra} }}\n}}\n')


def lmdb_net(source: str | Path) -> str:
    return (f'name: "n"\nlayer {{\n  name: "db"\n  type: "Data"\n  top: "data"\n  top: "label"\n'
            f'  data_param {{ source: "{source}" batch_size: 2 backend: LMDB }}\n}}\n')


def hdf5_net(source: str | Path) -> str:
    return (f'name: "n"\nlayer {{\n  name: "h5"\n  type: "HDF5Data"\n  top: "data"\n  top: "label"\n'
            f'  hdf5_data_param {{ source: "{source}" batch_size: 2 }}\n}}\n')


def mean_net(mean: str | Path, lmdb_dir: Path) -> str:
    return lmdb_net(lmdb_dir).replace('  data_param', f'  transform_param {{ mean_file: "{mean}" }}\n  data_param')


def analyze_cli(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    net = tmp_path / "net.prototxt"
    net.write_text(text)
    status = main(["analyze", str(net), "--strict-data", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, err


def _child(argv: list[str], report: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    report.write_text(f"{status}\n{err.getvalue()}")


def run_guarded(argv: list[str], report: Path) -> tuple[int, str]:
    """`main(argv)` in a forked process with a timeout: a hang (even one holding the GIL in C, as an
    LMDB opening a FIFO does) fails the test instead of stalling the suite."""
    child = multiprocessing.get_context("fork").Process(target=_child, args=(argv, report), daemon=True)
    child.start()
    child.join(TIMEOUT)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail(f"{argv} blocked (a FIFO was opened)")
    status, _, err = report.read_text().partition("\n")
    return int(status), err


# -- never block ------------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo") or "fork" not in multiprocessing.get_all_start_methods(),
                    reason="no FIFOs or no fork here")
@pytest.mark.parametrize(("make_net", "commands"), [
    (lambda d: image_net(d / "fifo"), ("analyze", "run")),
    (lambda d: image_net(d / "list.txt"), ("analyze", "run")),  # the FIFO as the list's first image
    (lambda d: lmdb_net(d / "fifo"), ("analyze", "run")),
    (lambda d: lmdb_net(d / "fifo_db"), ("analyze", "run")),  # an LMDB folder whose data.mdb is a FIFO
    (lambda d: hdf5_net(d / "fifo"), ("analyze", "run")),
    (lambda d: hdf5_net(d / "h5list.txt"), ("analyze",)),
    (lambda d: mean_net(d / "fifo", d / "db"), ("run",)),  # set-up does not read a mean file
])
def test_a_fifo_named_as_a_source_does_not_hang(tmp_path, make_net, commands) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "fifo_db").mkdir()
    os.mkfifo(tmp_path / "fifo_db" / "data.mdb")
    (tmp_path / "list.txt").write_text("fifo 1\n")
    (tmp_path / "h5list.txt").write_text("fifo\n")
    datum = caffe_pb2.Datum(channels=1, height=2, width=2, data=bytes(4), label=1)
    write_lmdb(tmp_path / "db", [datum.SerializeToString()])
    net = tmp_path / "net.prototxt"
    net.write_text(make_net(tmp_path))
    for command in commands:
        argv = [command, str(net)] + (["--strict-data"] if command == "analyze" else [])
        status, err = run_guarded(argv, tmp_path / "report.txt")
        assert status == 2, (argv, err)
        assert "layer '" in err and "not a regular file (a FIFO)" in err and "Traceback" not in err


# -- read only what is needed ---------------------------------------------------------------------

@pytest.mark.parametrize("as_first_image", [False, True])
def test_dev_zero_is_refused_without_reading_it(tmp_path, capsys, as_first_image) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    if as_first_image:
        (tmp_path / "list.txt").write_text("/dev/zero 0\n")
        text = image_net(tmp_path / "list.txt")
    else:
        text = image_net("/dev/zero")
    tracemalloc.start()
    try:
        status, err = analyze_cli(tmp_path, text, capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 2 and "layer 'img':" in err and "not a regular file (a device)" in err
    assert peak < 64 << 20


def test_a_huge_one_line_list_reads_one_bounded_line(tmp_path, capsys) -> None:
    (tmp_path / "list.txt").write_bytes(b"a" * (8 << 20))
    status, err = analyze_cli(tmp_path, image_net(tmp_path / "list.txt"), capsys)
    assert status == 2 and "layer 'img':" in err and "longer than" in err


def test_the_first_image_is_read_for_its_header_only(tmp_path, monkeypatch) -> None:
    from caffecx.layers import datasource

    (tmp_path / "a.png").write_bytes(png(7, 3) + b"\0" * (4 << 20))
    (tmp_path / "list.txt").write_text("a.png 1\n")
    reads: list[int] = []
    real = datasource.read_head
    monkeypatch.setattr(datasource, "read_head", lambda *a, **k: reads.append(a[3]) or real(*a, **k))
    from caffecx.layers import data

    monkeypatch.setattr(data, "read_head", datasource.read_head)
    (tmp_path / "net.prototxt").write_text(image_net(tmp_path / "list.txt"))
    from caffecx.analysis import analyze

    result = analyze(load_net(tmp_path / "net.prototxt"))
    assert list(result.layers[0].top_shapes[0]) == [2, 3, 3, 7]
    assert reads == [datasource.HEAD_BYTES]


# -- located errors, no content -------------------------------------------------------------------

@pytest.mark.parametrize(("make", "expect"), [
    (lambda d: image_net(d), "not a regular file (a folder)"),
    (lambda d: image_net(d / "list.txt").replace("list.txt", "dirlist.txt"), "not a regular file (a folder)"),
    (lambda d: lmdb_net(d / "plain.txt"), "not an LMDB"),
    (lambda d: lmdb_net(d / "emptydir"), "not found"),
    (lambda d: hdf5_net(d / "h5list.txt"), "not an HDF5 file"),
    (lambda d: hdf5_net(d), "not a regular file (a folder)"),
    (lambda d: hdf5_net(d / "h5dirlist.txt"), "not a regular file (a folder)"),
    (lambda d: image_net(d / "badlist.txt"), "is not a PNG, JPEG or BMP image"),
    (lambda d: image_net(d / "trunclist.txt"), "is not a PNG, JPEG or BMP image"),
])
def test_unreadable_sources_are_located_errors(tmp_path, capsys, make, expect) -> None:
    (tmp_path / "plain.txt").write_text("SECRET not an lmdb\n" * 100)
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "h5list.txt").write_text("plain.h5\n")
    (tmp_path / "plain.h5").write_text("SECRET not hdf5\n")
    (tmp_path / "h5dirlist.txt").write_text("emptydir\n")
    (tmp_path / "dirlist.txt").write_text("emptydir 1\n")
    (tmp_path / "bad.png").write_bytes(b"SECRET not an image")
    (tmp_path / "badlist.txt").write_text("bad.png 1\n")
    (tmp_path / "trunc.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    (tmp_path / "trunclist.txt").write_text("trunc.jpg 1\n")
    status, err = analyze_cli(tmp_path, make(tmp_path), capsys)
    assert status == 2 and "layer '" in err and expect in err, err
    assert "SECRET" not in err and err.count("\n") == 1


def test_the_first_line_of_etc_passwd_is_never_echoed(tmp_path, capsys) -> None:
    if not PASSWD.is_file():
        pytest.skip("no /etc/passwd")
    first = PASSWD.read_text(errors="replace").split("\n", 1)[0]
    path_part = first.rsplit(" ", 1)[0]
    for text in (image_net(PASSWD), hdf5_net(PASSWD), image_net(PASSWD, 'root_folder: "/"')):
        status, err = analyze_cli(tmp_path, text, capsys)
        assert status == 2 and "layer '" in err
        assert first not in err and (len(path_part) < 4 or path_part not in err), err
        status = main(["run", str(tmp_path / "net.prototxt")])
        err = capsys.readouterr()[1]
        assert status == 2 and first not in err and (len(path_part) < 4 or path_part not in err), err


def test_a_plausible_image_name_is_still_shown(tmp_path, capsys) -> None:
    (tmp_path / "list.txt").write_text("missing_cat.jpg 1\n")
    status, err = analyze_cli(tmp_path, image_net(tmp_path / "list.txt"), capsys)
    assert status == 2 and "image 'missing_cat.jpg'" in err


def test_a_nul_byte_in_a_source_name_is_located(tmp_path, capsys) -> None:
    status, err = analyze_cli(tmp_path, image_net("a\\000b.txt"), capsys)
    assert status == 2 and "layer 'img':" in err and "NUL" in err


def test_a_zero_sized_image_header_is_refused(tmp_path, capsys) -> None:
    data = bytearray(png(4, 4))
    data[16:24] = bytes(8)  # IHDR width = height = 0
    (tmp_path / "z.png").write_bytes(bytes(data))
    (tmp_path / "list.txt").write_text("z.png 1\n")
    status, err = analyze_cli(tmp_path, image_net(tmp_path / "list.txt"), capsys)
    assert status == 2 and "0x0" in err


def test_mean_files_are_regular_bounded_and_located(tmp_path) -> None:
    datum = caffe_pb2.Datum(channels=1, height=2, width=2, data=bytes(4), label=1)
    db = write_lmdb(tmp_path / "db", [datum.SerializeToString()])
    (tmp_path / "mean.binaryproto").write_bytes(b"SECRET\xff\xff\xff garbage")
    net = tmp_path / "net.prototxt"
    for mean, expect in ((tmp_path / "mean.binaryproto", "mean file 'mean.binaryproto'"),
                         (tmp_path, "not a regular file (a folder)"), (Path("/dev/zero"), "a device")):
        net.write_text(mean_net(mean, db))
        with pytest.raises(ShapeError) as info:
            load_net(net).forward()
        assert info.value.location.layer == "db" and expect in info.value.message
        assert "SECRET" not in str(info.value)


def test_lmdb_records_that_are_not_datums_are_located(tmp_path) -> None:
    db = write_lmdb(tmp_path / "db", [b"\xff\xff\xff\xffSECRET"])
    net = tmp_path / "net.prototxt"
    net.write_text(lmdb_net(db))
    with pytest.raises(CaffecxError) as info:
        load_net(net).forward()
    assert "SECRET" not in str(info.value) and info.value.location.layer == "db"
    bad = caffe_pb2.Datum(channels=1, height=-1, width=-4, data=bytes(4))
    write_lmdb(tmp_path / "db2", [bad.SerializeToString()])
    net.write_text(lmdb_net(tmp_path / "db2"))
    with pytest.raises(CaffecxError):
        load_net(net).forward()


def test_a_forward_reads_only_the_lines_its_batch_reaches(tmp_path) -> None:
    (tmp_path / "a.png").write_bytes(png(6, 5))
    (tmp_path / "list.txt").write_bytes(b"a.png 1\na.png 2\n" + b"x" * (1 << 20) + b"\n")
    net = tmp_path / "net.prototxt"
    net.write_text(image_net(tmp_path / "list.txt"))
    out = load_net(net).forward()
    assert out["label"].tolist() == [1, 2] and out["data"].shape == (2, 3, 5, 6)
    net.write_text(image_net(tmp_path / "list.txt").replace("batch_size: 2", "batch_size: 3"))
    with pytest.raises(ShapeError, match="line 3 of image list 'list.txt' is longer than"):
        load_net(net).forward()
    (tmp_path / "short.txt").write_text("a.png 4\n")  # fewer lines than the batch: wraps as Caffe does
    net.write_text(image_net(tmp_path / "short.txt"))
    assert load_net(net).forward()["label"].tolist() == [4, 4]
