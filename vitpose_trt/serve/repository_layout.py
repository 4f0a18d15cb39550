"""Names and files of the Triton model repository (`vitpose-export --triton-repo`), shared by its writer and
the Python-backend models that read it inside Triton.

    DIR/vitpose_net/config.pbtxt, 1/model.plan | 1/model.onnx | 1/model.py + 1/model.onnx
    DIR/vitpose/config.pbtxt, 1/model.py, 1/vitpose_trt.json

`vitpose_trt.json` (`PoseModelSettings`) tells the `vitpose` model what the network is: its artifact
metadata, inputs and outputs, batch limit and Triton model name, plus the served color order and limits.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..artifacts.io import ModelIO
from ..artifacts.metadata import ArtifactMetadata
from .protocol import RequestLimits

NET_MODEL = "vitpose_net"
MODEL_VERSION = "1"
SETTINGS_FILE = "vitpose_trt.json"
CONFIG_FILE = "config.pbtxt"
PYTHON_MODEL_FILE = "model.py"
#: Triton's default model file names per platform.
PLAN_FILE, ONNX_FILE = "model.plan", "model.onnx"


@dataclass(frozen=True)
class PoseModelSettings:
    """What the `vitpose` Python-backend model reads at start-up (`vitpose_trt.json`)."""

    net_model: str
    metadata: ArtifactMetadata
    io: ModelIO
    net_max_batch: int
    color: str
    limits: RequestLimits

    def to_json(self) -> str:
        data = {"net_model": self.net_model, "metadata": self.metadata.to_dict(), "io": self.io.to_dict(),
                "net_max_batch": self.net_max_batch, "color": self.color, "limits": asdict(self.limits)}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> PoseModelSettings:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(net_model=data["net_model"], metadata=ArtifactMetadata.from_dict(data["metadata"], str(path)),
                   io=ModelIO.from_dict(data["io"]), net_max_batch=int(data["net_max_batch"]),
                   color=data["color"], limits=RequestLimits(**data["limits"]))


def version_dir(model_dir: Path) -> Path:
    """DIR/<model>/1: where a model's files are."""
    return Path(model_dir) / MODEL_VERSION
