"""Regenerate caffecx/proto/caffe_pb2.py (+ .pyi) from caffecx/proto/caffe.proto.

    python scripts/gen_proto.py            # rewrite the committed modules
    python scripts/gen_proto.py --check    # exit 1 if the committed modules are stale

Uses the protoc bundled with grpcio-tools (``python -m grpc_tools.protoc``).  The generated
module calls ``ValidateProtobufRuntimeVersion(<gencode version>)``: the installed protobuf
runtime must be at least the gencode version, so regeneration refuses to write a module that
the installed runtime cannot import.  ``--check`` accepts output of a different protoc release
as long as the embedded schema (the serialized FileDescriptorProto) is identical.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROTO_DIR = REPO / "caffecx" / "proto"
PROTO = PROTO_DIR / "caffe.proto"
OUTPUTS = ("caffe_pb2.py", "caffe_pb2.pyi")

_GENCODE_RE = re.compile(r"^# Protobuf Python Version: (\S+)$", re.MULTILINE)
_DESCRIPTOR_RE = re.compile(r"AddSerializedFile\((b'.*?')\)\n", re.DOTALL)


def generate(out_dir: Path) -> None:
    """Run protoc on caffe.proto, writing caffe_pb2.py and caffe_pb2.pyi into ``out_dir``."""
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        str(PROTO),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed ({result.returncode}):\n{result.stderr}")


def gencode_version(source: str) -> str | None:
    """The protobuf gencode version a generated module was written for, if stated."""
    match = _GENCODE_RE.search(source)
    return match.group(1) if match else None


def serialized_descriptor(source: str) -> bytes | None:
    """The serialized FileDescriptorProto embedded in a generated module."""
    match = _DESCRIPTOR_RE.search(source)
    return ast.literal_eval(match.group(1)) if match else None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def runtime_problem(source: str) -> str | None:
    """Why the installed protobuf runtime cannot import this generated module, or None."""
    from google.protobuf import __version__ as runtime

    wanted = gencode_version(source)
    if wanted and _version_tuple(runtime) < _version_tuple(wanted):
        return (
            f"generated code needs protobuf >= {wanted} but {runtime} is installed; "
            "use a grpcio-tools release whose protoc matches the runtime"
        )
    return None


def check() -> list[str]:
    """Compare freshly generated modules with the committed ones; return the problems found."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = {name: (Path(tmp) / name).read_text(encoding="utf-8") for name in OUTPUTS}
    committed: dict[str, str] = {}
    for name in OUTPUTS:
        path = PROTO_DIR / name
        if not path.exists():
            problems.append(f"{name} is missing: run python scripts/gen_proto.py")
        else:
            committed[name] = path.read_text(encoding="utf-8")
    if problems:
        return problems
    module = "caffe_pb2.py"
    if gencode_version(fresh[module]) != gencode_version(committed[module]):
        # Another protoc release lays the code out differently: compare the schema itself.
        if serialized_descriptor(fresh[module]) != serialized_descriptor(committed[module]):
            problems.append(f"{module} is stale (schema differs): run python scripts/gen_proto.py")
        return problems
    for name in OUTPUTS:
        if fresh[name] != committed[name]:
            problems.append(f"{name} is stale: run python scripts/gen_proto.py")
    return problems


def write() -> None:
    """Regenerate the committed modules in place (refusing code the runtime cannot import)."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        source = (Path(tmp) / "caffe_pb2.py").read_text(encoding="utf-8")
        problem = runtime_problem(source)
        if problem:
            raise SystemExit(problem)
        for name in OUTPUTS:
            text = (Path(tmp) / name).read_text(encoding="utf-8")
            (PROTO_DIR / name).write_text(text, encoding="utf-8")
    print(f"wrote {', '.join(str((PROTO_DIR / n).relative_to(REPO)) for n in OUTPUTS)}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed modules are stale")
    args = parser.parse_args(argv)
    os.chdir(REPO)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print("caffe_pb2 is up to date")
        return 1 if problems else 0
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
