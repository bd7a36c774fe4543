"""Caffe's protobuf schema (BVLC master plus common fork extensions); see docs/proto.md."""

from caffecx.proto import caffe_pb2

__all__ = ["caffe_pb2"]
