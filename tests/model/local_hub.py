"""A Hugging Face Hub endpoint on 127.0.0.1 that serves local folders, so huggingface_hub writes its own cache.

huggingface_hub has no public call that adds local files to its cache: its downloader (`snapshot_download`,
`hf_hub_download`) is what writes models--org--name/{blobs,refs,snapshots}. Pointing `HF_ENDPOINT` at this
server lets that downloader run unchanged, so the cache the tests read is byte for byte the library's own.
The server answers the requests huggingface_hub 2.x makes for a public model repository: repository info,
the file tree, and HEAD/GET of each file (plain files, no LFS/Xet). Unknown repositories and revisions get
the Hub's 404 with its `X-Error-Code`. Every file it sends is recorded in `served`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: The branch a revision-less download asks for.
DEFAULT_BRANCH = "main"
_API = re.compile(r"/api/models/(?P<repo>[^/]+/[^/]+)(?:/(?P<kind>revision|tree)/(?P<rest>.+))?")
_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<path>.+)")


def git_blob_id(data: bytes) -> str:
    """The git object id of a file's bytes: what the Hub reports as a non-LFS file's oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class LocalHub:
    """Serves {repo_id: folder} at `endpoint` (a context manager: started on enter, stopped on exit).

    Each repository has one commit on `main`; its hash (`commit(repo_id)`) is derived from the files.
    """

    def __init__(self, repos: dict[str, Path]):
        self.files = {repo: {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
                             if p.is_file()} for repo, folder in repos.items()}
        self.served: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def commit(self, repo: str) -> str:
        listing = json.dumps({path: git_blob_id(data) for path, data in self.files[repo].items()}, sort_keys=True)
        return hashlib.sha1(f"{repo}\n{listing}".encode()).hexdigest()

    def __enter__(self) -> LocalHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(hub: LocalHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, send_body: bool) -> None:
            url_path = unquote(urlsplit(self.path).path)
            api, resolve = _API.fullmatch(url_path), _RESOLVE.fullmatch(url_path)
            match = api or resolve
            if match is None or match["repo"] not in hub.files:
                return self._error("RepoNotFound", "Repository not found")
            repo = match["repo"]
            if api:
                revision = api["rest"].split("/")[0] if api["rest"] else DEFAULT_BRANCH
            else:
                revision = resolve["revision"]
            if revision not in (DEFAULT_BRANCH, hub.commit(repo)):
                return self._error("RevisionNotFound", f"Invalid rev id: {revision}")
            if api and api["kind"] == "tree":
                tree = [{"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}
                        for path, data in hub.files[repo].items()]
                return self._send(json.dumps(tree).encode(), "application/json", send_body)
            if api:
                info = {"id": repo, "sha": hub.commit(repo), "private": False,
                        "siblings": [{"rfilename": p} for p in hub.files[repo]]}
                return self._send(json.dumps(info).encode(), "application/json", send_body)
            data = hub.files[repo].get(resolve["path"])
            if data is None:
                return self._error("EntryNotFound", "Entry not found")
            if send_body:
                hub.served.append(f"{repo}/{resolve['path']}")
            self._send(data, "application/octet-stream", send_body,
                       {"X-Repo-Commit": hub.commit(repo), "ETag": f'"{git_blob_id(data)}"'})

        def _send(self, body: bytes, content_type: str, send_body: bool, headers: dict | None = None) -> None:
            self.send_response(200)
            headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def _error(self, code: str, message: str) -> None:
            body = json.dumps({"error": message}).encode()
            self.send_response(404)
            for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                "X-Error-Code": code, "X-Error-Message": message}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Handler
