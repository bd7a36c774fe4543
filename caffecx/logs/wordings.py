"""Every Caffe wording `caffecx.logs` reads, once, as a compiled pattern named after what it reads.

The wordings are those of BVLC Caffe's ``solver.cpp``, ``sgd_solver.cpp``, ``net.cpp``, ``caffe.cpp``
and ``layer_factory.hpp`` from 2014 to 2017 and of the forks that kept them. Patterns over a glog
message match from its start (the text after the prefix's ``] ``).
"""

from __future__ import annotations

import re

NUMBER = rb"[^\s,]+"  # a number as Caffe prints it: 1.47955e+09, nan, -nan, inf, ...

# ---- the hot wordings: one alternation, so that one findall reads a run of them ------------------
# groups: 1 lr iteration, 2 lr | 3 loss iteration, 4 iter/s, 5 s per interval, 6 interval iterations,
#         7 loss | 8 output index, 9 output name, 10 value, 11 loss weight, 12 weighted value
_HOT = (
    rb"Iteration (\d{1,18}), lr = (" + NUMBER + rb")"
    rb"|Iteration (\d{1,18})(?: \((" + NUMBER + rb") iter/s, ([^\s,]+?)s/(\d{1,18}) iters?\))?"
    rb", loss = (" + NUMBER + rb")"
    rb"|(?: {4}[ \t\r\x0b\x0c]*)?Train net output #(\d{1,9}): (.+?) = (" + NUMBER + rb")"
    rb"(?: \(\* (" + NUMBER + rb") = (" + NUMBER + rb") loss\))?"
)
#: a hot message (``Iteration N, lr = x``, ``Iteration N, loss = x``, ``Train net output #k: n = v``)
HOT_MESSAGE = re.compile(_HOT)
#: a hot line from its ``] `` to its end (HOT_MESSAGE's groups). A row takes the rest of its line, so a
#: line gives one row at most: a run with as many rows and ``] `` as lines has one row per line, each
#: at the line's only ``] `` (the scanner checks the counts; a literal-led pattern is found fast)
HOT_LINE = re.compile(rb"\] (?:" + _HOT + rb")[^\n]*")
#: where a line is not a hot one: its ``] `` is followed by something else (searched apart from
#: `SIGNAL`: a pattern that starts with one literal is found by a fast scan, an alternation is not)
RARE_MESSAGE = re.compile(
    rb"\] (?!Iteration \d{1,18}(?:, l| \(.{0,80}?\), loss = )|(?: {4}[ \t\r\x0b\x0c]*)?Train net output #)")
#: glog's failure signal handler speaks (``*** Aborted at``, ``*** SIGTERM``, ``*** Check failure stack trace``)
SIGNAL = re.compile(rb"\*\*\* (?:Aborted at|SIG[A-Z]+ |Check failure stack trace)")
#: any line with a message, or glog's signal handler (the line-by-line reading)
ANY_LINE = re.compile(rb"\] |" + SIGNAL.pattern)
#: a display line, where a big file may be cut for parallel parsing
DISPLAY_LINE = re.compile(rb"\] Iteration \d{1,18}(?: \([^)\n]*\))?, loss = ")

# ---- solver.cpp: tests ----------------------------------------------------------------------
TESTING_NET = re.compile(rb"(?:Iteration (\d{1,18}), )?Testing net(?: \(#(\d{1,9})\))?")
NET_OUTPUT = re.compile(rb"(Train|Test) net output #(\d{1,9}): (.+?) = (" + NUMBER + rb")"
                        rb"(?: \(\* (" + NUMBER + rb") = (" + NUMBER + rb") loss\))?")
TEST_SCORE_2014 = re.compile(rb"Test score #(\d{1,9}): (" + NUMBER + rb")")
TEST_LOSS_2014 = b"Test loss: "
TEST_INTERRUPTED = b"Test interrupted"
TIME_ITERATION = b"Iteration: "  # caffe time: ``Iteration: 1 forward-backward time: 21 ms.``

# ---- solver.cpp / caffe.cpp: runs -------------------------------------------------------------
SOLVER_ECHO = b"Initializing solver from parameters"
NET_ECHO = b"Initializing net from parameters"
SOLVING = b"Solving"
SCAFFOLDING_DONE = b"Solver scaffolding done"
LR_POLICY = b"Learning Rate Policy: "
OPTIMIZATION_DONE = b"Optimization Done"
STOPPED_EARLY = b"Optimization stopped early"
RESTORES = ((b"Resuming from ", "resume"), (b"Restoring previous solver status from ", "resume"),
            (b"Finetuning from ", "finetune"))
RESTARTING_PREFETCH = b"Restarting data prefetching"
SNAPSHOTTING = b"Snapshotting "
SNAPSHOT_SOLVER_STATE = b"solver state "
SNAPSHOT_FORMATS = ((b"binary proto file ", "binaryproto"), (b"HDF5 file ", "hdf5"))
ITERATION_IN_FILE_NAME = re.compile(r"_iter_(\d{1,18})(?:\D|$)")
CHECK_FAILED = b"Check failed"

# ---- net.cpp / layer_factory.hpp: set-up -------------------------------------------------------
CREATING_TRAIN_NET = b"Creating training net "
CREATING_TEST_NET = re.compile(rb"Creating test net \(#(\d{1,9})\) (.*)")
FILTERED_BY_RULE = re.compile(rb"The NetState .* specified by a rule in layer (.+)")
CREATING_LAYER = b"Creating Layer "
CREATING_LAYER_FACTORY = b"Creating layer "  # layer_factory.hpp (nothing read)
SETTING_UP = b"Setting up "
BOTTOM = re.compile(rb"(\S+) <- (\S+)")
TOP = re.compile(rb"(\S+) -> (\S+)( \(in-place\))?")
NEEDS_BACKWARD = re.compile(rb"(\S+) (needs|does not need) backward computation\.")
TOP_SHAPE = re.compile(rb"Top shape:((?: \d{1,18})*)(?: \((\d{1,20})\))?")
LOSS_WEIGHT = b"with loss weight "
MEMORY = re.compile(rb"Memory required for data: (\d{1,20})")
NET_PRODUCES = b"This network produces output "
NET_DONE = b"Network initialization done"

#: the set-up lines a net's layers are read from, as whole lines (a glog prefix, ``] ``, then one of
#: the wordings above to the end of the line): a run of them is read by one ``match`` per line. Each
#: wording is a named group (``m.lastgroup`` says which); its own groups follow it in order.
SETUP_WORDINGS = (
    ("layer", re.escape(CREATING_LAYER) + rb"(.*)"),
    ("nothing_read", rb"(?:" + re.escape(SETTING_UP) + rb"|" + re.escape(CREATING_LAYER_FACTORY) + rb").*"),
    ("bottom", BOTTOM.pattern + rb"\r*"),
    ("top", TOP.pattern + rb"\r*"),
    ("backward", NEEDS_BACKWARD.pattern + rb"\r*"),
    ("top_shape", TOP_SHAPE.pattern + rb"[ \t\r\x0b\x0c]*"),
    ("memory", MEMORY.pattern + rb".*"),
)
SETUP_LINE = re.compile(rb"\n([^\]\n]*)\] (?:"
                        + rb"|".join(rb"(?P<%s>%s)" % (name.encode(), wording) for name, wording in SETUP_WORDINGS)
                        + rb")(?=\n)")

# ---- caffe.cpp: ``caffe test`` and ``caffe time`` ------------------------------------------------
TEST_BATCH = re.compile(rb"Batch (\d{1,18}), (.+?) = (" + NUMBER + rb")")
TEST_FINAL_LOSS = re.compile(rb"Loss: (" + NUMBER + rb")")
TEST_RESULT = re.compile(rb"(\S+) = (" + NUMBER + rb")(?: \(\* (" + NUMBER + rb") = (" + NUMBER + rb") loss\))?$")
TIME_LAYER = re.compile(rb"\s*(\S+)\t(forward|backward): (" + NUMBER + rb") ms\.")
TIME_AVERAGE = re.compile(rb"(Average Forward pass|Average Backward pass|Average Forward-Backward|Total Time): ("
                          + NUMBER + rb") ms\.")
BENCHMARK_ENDS = b"*** Benchmark ends ***"  # caffe time's last line

# ---- glog and protobuf ------------------------------------------------------------------------
LIBPROTOBUF = b"[libprotobuf "
