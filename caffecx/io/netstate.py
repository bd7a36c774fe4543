"""Caffe's Net::FilterNet: keep the layers whose include/exclude rules the NetState meets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from caffecx.errors import GraphError
from caffecx.proto import caffe_pb2

PHASES = {"TRAIN": caffe_pb2.TRAIN, "TEST": caffe_pb2.TEST}


@dataclass(frozen=True)
class NetState:
    """Phase, level and stages a net is built for (Caffe's NetState)."""

    phase: str = "TEST"
    level: int = 0
    stages: tuple[str, ...] = field(default_factory=tuple)

    def to_proto(self) -> Any:
        st = caffe_pb2.NetState()
        st.phase = PHASES[self.phase]
        st.level = self.level
        st.stage.extend(self.stages)
        return st


def state_for(net_param: Any, phase: str, level: int | None = None, stages: tuple[str, ...] = ()) -> NetState:
    """The state Caffe's tools build a net with: the caller's phase, the file's stages plus the caller's."""
    if phase not in PHASES:
        raise GraphError(f"phase must be TRAIN or TEST, not {phase!r}")
    if level is not None:
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(f"level must be an int, not {type(level).__name__}")
        if not -(2**31) <= level < 2**31:
            raise GraphError(f"level (--level) {level} is out of range: NetState's level is an int32 "
                             f"({-(2**31)} to {2**31 - 1})")
    if isinstance(stages, (str, bytes)) or not all(isinstance(s, str) for s in stages):
        raise TypeError("stages must be a list of str (stage names)")
    file_state = net_param.state
    merged = tuple(file_state.stage) + tuple(s for s in stages if s not in file_state.stage)
    return NetState(phase, file_state.level if level is None else level, merged)


def _phase_name(value: int) -> str:
    return caffe_pb2.Phase.Name(value)


def state_meets_rule(state: NetState, rule: Any, layer_name: str, notes: list[str]) -> bool:
    """Caffe's StateMeetsRule, including the note it logs when the phase differs."""
    if rule.HasField("phase") and rule.phase != PHASES[state.phase]:
        notes.append(
            f"The NetState phase ({PHASES[state.phase]}) differed from the phase ({rule.phase}) "
            f"specified by a rule in layer {layer_name}"
        )
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        notes.append(f"The NetState level ({state.level}) is below the min_level ({rule.min_level}) "
                     f"specified by a rule in layer {layer_name}")
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        notes.append(f"The NetState level ({state.level}) is above the max_level ({rule.max_level}) "
                     f"specified by a rule in layer {layer_name}")
        return False
    for stage in rule.stage:
        if stage not in state.stages:
            notes.append(f"The NetState did not contain stage '{stage}' specified by a rule in layer {layer_name}")
            return False
    for stage in rule.not_stage:
        if stage in state.stages:
            notes.append(f"The NetState contained a not_stage '{stage}' specified by a rule in layer {layer_name}")
            return False
    return True


def filter_net(net_param: Any, state: NetState) -> tuple[Any, list[bool], list[str]]:
    """(filtered NetParameter, kept flag per original layer, notes), as Caffe's FilterNet.

    A layer with no include rule is kept unless an exclude rule matches; a layer with include rules
    is kept when one matches. Having both kinds is an error, as in Caffe.
    """
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    del out.layer[:]
    out.state.CopyFrom(state.to_proto())
    kept: list[bool] = []
    notes: list[str] = []
    for layer in net_param.layer:
        if len(layer.include) and len(layer.exclude):
            raise GraphError("Specify either include rules or exclude rules; not both.", layer=layer.name)
        included = len(layer.include) == 0
        for rule in layer.exclude:
            if state_meets_rule(state, rule, layer.name, notes):
                included = False
        for rule in layer.include:
            if state_meets_rule(state, rule, layer.name, notes):
                included = True
        kept.append(included)
        if included:
            out.layer.add().CopyFrom(layer)
    return out, kept, notes
