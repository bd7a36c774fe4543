"""caffecx: Caffe networks, weights and training logs, rebuilt without Caffe."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("caffecx")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

from caffecx.errors import CaffecxError, Location  # noqa: E402

__all__ = ["CaffecxError", "Location", "__version__"]
