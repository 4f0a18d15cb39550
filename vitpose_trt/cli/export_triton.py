"""vitpose-export --triton-repo: a Triton model repository beside the exported model (see serve/model_repository)."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from .common import given_flags, refuse_without

#: Every --triton-* option (flag -> argparse dest; each defaults to None, so None means not given).
TRITON_OPTIONS = {"--triton-repo": "triton_repo", "--triton-net": "triton_net",
                  "--triton-instances": "triton_instances"}


def add_triton_arguments(p: argparse.ArgumentParser) -> None:
    t = p.add_argument_group("Triton model repository")
    t.add_argument("--triton-repo", metavar="REPO", help="also write a Triton model repository here")
    t.add_argument("--triton-net", metavar="{tensorrt,onnxruntime,python}", help="how Triton runs the network "
                   "(default: tensorrt for an engine, onnxruntime without one; python: the ONNX run by vitpose-trt "
                   "inside a Python-backend model, for servers without the onnxruntime backend)")
    t.add_argument("--triton-instances", type=int, metavar="N",
                   help="instances of the network per GPU (tensorrt) or on the CPU (default 1)")


def repository_options(args: argparse.Namespace, checked_output: Callable[[str], None]):
    """`RepositoryOptions` for --triton-repo (checked before the export), or None without it."""
    if args.triton_repo is None:
        refuse_without(given_flags(args, TRITON_OPTIONS), "--triton-repo")
        return None
    from ..artifacts.metadata import OPENVINO_TARGET
    from ..option_checks import positive_int
    from ..serve.model_repository import RepositoryOptions

    if args.target == OPENVINO_TARGET:
        raise ConfigError("--triton-repo serves an engine or an ONNX file; --target openvino writes OpenVINO files")
    if args.triton_net == "tensorrt" and args.builder == "none":
        raise ConfigError("--triton-net tensorrt needs an engine: drop --builder none")
    settings = {"net_backend": args.triton_net}
    if args.triton_instances is not None:
        settings["net_instances"] = positive_int("--triton-instances", args.triton_instances)
    repository = RepositoryOptions(**settings)
    checked_output(args.triton_repo)
    return repository


def write_repository(args: argparse.Namespace, repository, model_path: Path) -> None:
    from ..serve.model_repository import model_repository_from

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        model_repository_from(model_path, args.triton_repo, repository)
    for warning in caught:
        print(f"warning: {warning.message}")
    print(f"wrote the Triton model repository {args.triton_repo} (vitpose, vitpose_net from {model_path.name})")
