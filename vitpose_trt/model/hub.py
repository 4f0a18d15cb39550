"""Hugging Face Hub model ids (`org/name`, `org/name@revision`) -> a local folder of safetensors weights.

A string names a Hub model repository when it is not an existing path and has an id's form. It is
resolved with huggingface_hub into its standard cache (`HF_HUB_CACHE`, by default
~/.cache/huggingface/hub): the first use downloads config.json and the safetensors weights, nothing else
(never pickled weights, never code); later uses read the cache. With `HF_HUB_OFFLINE=1` only the cache is
read. The snapshot folder it gives is a `save_pretrained` folder for the Hugging Face layout loader.
huggingface_hub reads its environment (HF_HUB_CACHE, HF_HOME, HF_HUB_OFFLINE, HF_ENDPOINT) when imported.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from ..dependencies import import_optional
from ..errors import CheckpointError

#: Files fetched from a repository: the VitPose config and its safetensors weights, single or sharded.
HUB_FILES = ("config.json", "model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors")
#: A snapshot is loadable when it holds one of these; `checkpoint_files.HF_WEIGHT_FILES` tries them before
#: any pickle, so a pytorch_model.bin that something else put in the same snapshot is never read.
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
#: Names ending like a file are paths: "out/model.pth" is a missing file, not a repository "model.pth".
FILE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".json", ".onnx", ".engine", ".plan")
_HUB_ID = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w.][\w./-]*))?")
#: Cached repositories a "not in the cache" error suggests, and how alike their ids must be (difflib ratio).
MAX_SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.75
LIBRARY_NAME = "vitpose-trt"
#: How to fetch a repository by hand (shown when it is missing from the cache).
DOWNLOAD_COMMAND = "hf download {repo} config.json model.safetensors{revision}"


@dataclass(frozen=True)
class HubId:
    """A Hub model repository id and optional revision (branch, tag or commit hash; None: the default branch)."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")


def hub_id_from_text(source) -> HubId | None:
    """The Hub id `source` names: None unless it is a str of the form org/name[@revision] that is not an
    existing file or folder (a local path always wins) and does not end like a checkpoint file name."""
    if not isinstance(source, str) or Path(source).expanduser().exists():
        return None
    match = _HUB_ID.fullmatch(source)
    if match is None or match["repo"].lower().endswith(FILE_SUFFIXES):
        return None
    return HubId(match["repo"], match["revision"])


def is_hub_id(source) -> bool:
    """True when `source` would be resolved on the Hugging Face Hub (see `hub_id_from_text`)."""
    return hub_id_from_text(source) is not None


def checkpoint_location(weights: str | Path) -> Path:
    """Where to read `weights` from: the local snapshot folder of a Hub id, else the path itself (~ expanded)."""
    hub_id = hub_id_from_text(weights)
    return snapshot_folder(hub_id) if hub_id is not None else Path(weights).expanduser()


def snapshot_folder(hub_id: HubId) -> Path:
    """The local snapshot folder (config.json + safetensors weights) of `hub_id`, downloaded on first use.

    Raises `CheckpointError` for an unknown repository or revision, one missing from the cache while
    offline or with the Hub unreachable, or one without safetensors weights; `MissingDependencyError`
    without huggingface_hub.
    """
    hub = import_optional("huggingface_hub", f"Hugging Face Hub ids such as {hub_id}")
    hub_errors = import_optional("huggingface_hub.utils", "Hugging Face Hub ids")  # its errors, in every version
    constants = import_optional("huggingface_hub.constants", "Hugging Face Hub ids")
    try:
        folder = hub.snapshot_download(hub_id.repo_id, revision=hub_id.revision, allow_patterns=list(HUB_FILES),
                                       local_files_only=constants.HF_HUB_OFFLINE, library_name=LIBRARY_NAME)
    except hub_errors.GatedRepoError:
        raise CheckpointError(f"{hub_id}: the repository is gated: accept its terms on the Hub and log in "
                              "(`hf auth login`)") from None
    except hub_errors.RepositoryNotFoundError:
        raise CheckpointError(f"{hub_id}: no such model repository on the Hugging Face Hub (is it spelt right? a "
                              "private one needs `hf auth login`), and no such local file or folder") from None
    except hub_errors.RevisionNotFoundError:
        raise CheckpointError(f"{hub_id}: the repository has no revision {hub_id.revision!r}") from None
    except hub_errors.LocalEntryNotFoundError as exc:
        raise _not_cached_error(hub_id, exc) from None
    except ValueError as exc:  # HFValidationError: a malformed id or revision
        raise CheckpointError(f"{hub_id}: not a valid Hugging Face Hub id: {exc}") from None
    return _checked_safetensors(hub_id, Path(folder))


def _checked_safetensors(hub_id: HubId, folder: Path) -> Path:
    """`folder` if it holds safetensors weights; else the CheckpointError that refuses pickles."""
    if any((folder / name).is_file() for name in SAFETENSORS_WEIGHTS):
        return folder
    raise CheckpointError(
        f"{hub_id}: the repository has no safetensors weights ({' or '.join(SAFETENSORS_WEIGHTS)}); vitpose-trt "
        "takes only safetensors from the Hub, never pickled weights such as pytorch_model.bin (unpickling can "
        "run code). If you trust its file, download it and pass the local path (read with "
        "torch.load(weights_only=True))"
    )


def cache_folder(hub_id: HubId) -> Path:
    """The folder huggingface_hub keeps `hub_id`'s repository in (models--org--name under HF_HUB_CACHE)."""
    constants = import_optional("huggingface_hub.constants", "Hugging Face Hub ids")
    file_download = import_optional("huggingface_hub.file_download", "Hugging Face Hub ids")
    return Path(constants.HF_HUB_CACHE) / file_download.repo_folder_name(repo_id=hub_id.repo_id, repo_type="model")


def _not_cached_error(hub_id: HubId, exc: Exception) -> CheckpointError:
    """The error for a repository (or revision, or some of its files) missing from the cache, offline or not."""
    constants = import_optional("huggingface_hub.constants", "Hugging Face Hub ids")
    if constants.HF_HUB_OFFLINE:
        why = "HF_HUB_OFFLINE=1 forbids downloading it"
    else:
        why = f"the Hub could not be reached ({type(exc.__cause__ or exc).__name__})"
    revision = f" --revision {hub_id.revision}" if hub_id.revision else ""
    command = DOWNLOAD_COMMAND.format(repo=hub_id.repo_id, revision=revision)
    similar = [repo for repo in _cached_ids_like(hub_id) if repo != hub_id.repo_id]
    suggestion = f"; cached models with a similar id: {', '.join(similar)}" if similar else ""
    folder = cache_folder(hub_id)
    missing = (f"{hub_id}: this revision (or some of its files) is not in the Hugging Face cache, though "
               f"{hub_id.repo_id} is ({folder})" if folder.is_dir() else
               f"{hub_id}: not in the Hugging Face cache ({folder})")
    return CheckpointError(
        f"{missing} and {why}; download it once where the Hub is reachable, into the same HF_HUB_CACHE / HF_HOME, "
        f"with `{command}` (or run this again online){suggestion}"
    )


def _cached_ids_like(hub_id: HubId) -> list[str]:
    """Ids of cached model repositories that look like `hub_id` (a typo's likely intent)."""
    hub = import_optional("huggingface_hub", "Hugging Face Hub ids")
    constants = import_optional("huggingface_hub.constants", "Hugging Face Hub ids")
    try:
        repos = hub.scan_cache_dir(constants.HF_HUB_CACHE).repos
        cached = [repo.repo_id for repo in repos if repo.repo_type == "model"]
    except (hub.CacheNotFound, hub.CorruptedCacheException, OSError):  # no cache yet, or unreadable: no hint
        return []
    return difflib.get_close_matches(hub_id.repo_id, cached, n=MAX_SUGGESTIONS, cutoff=SUGGESTION_CUTOFF)
