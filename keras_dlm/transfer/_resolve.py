"""Turns a HubBackbone handle into a local SavedModel directory, offline-aware.

``tensorflow_hub.resolve`` downloads with ``urllib.request.urlopen`` and no
timeout, and may then wait up to ten minutes on another process's lock file:
on a machine without network access that can hang. So a URL handle is first
looked up in the hub cache (``TFHUB_CACHE_DIR``), then the server is probed
with a bounded timeout, and only then is the download left to tensorflow_hub,
with the same timeout on every socket operation (connecting and each read).

The timeout is ``HubBackbone(download_timeout=...)``, else the environment
variable ``KERAS_DLM_HUB_TIMEOUT`` (seconds), else 10 seconds.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading
import urllib.parse
import urllib.request

from keras_dlm._checks import check_number, invalid_argument
from keras_dlm.transfer import _deps

DEFAULT_TIMEOUT_S = 10.0
TIMEOUT_VARIABLE = "KERAS_DLM_HUB_TIMEOUT"
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
# The host TensorFlow's GCS file system talks to for gs:// paths.
_GCS_PROBE_URL = "https://www.googleapis.com"


def is_remote_handle(handle: str) -> bool:
    """Whether ``handle`` names a module tensorflow_hub must fetch (not a path)."""
    scheme = urllib.parse.urlparse(handle).scheme
    return len(scheme) > 1 and scheme != "file"


def cache_dir_for(handle: str) -> str:
    """Where tensorflow_hub caches (and looks for) the module of a URL handle.

    Mirrors ``tensorflow_hub.resolver.tfhub_cache_dir(use_temp=True)`` without
    importing tensorflow_hub, so a cached module loads even where
    tensorflow_hub cannot be imported.
    """
    cache_root = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "tfhub_modules"
    )
    return os.path.join(cache_root, hashlib.sha1(handle.encode("utf8")).hexdigest())


def _unavailable_message(handle: str, reason: str) -> str:
    cache = cache_dir_for(handle)
    env_note = (
        f"TFHUB_CACHE_DIR is {os.environ['TFHUB_CACHE_DIR']!r}"
        if os.environ.get("TFHUB_CACHE_DIR")
        else "TFHUB_CACHE_DIR is not set, so tensorflow_hub uses the temporary folder"
    )
    return (
        f"Could not download the TF-Hub module {handle!r}: {reason}. This machine "
        "seems to have no access to the module's server. Download the module on a "
        "machine that has, for example\n"
        f"    curl -L '{handle}?tf-hub-format=compressed' -o module.tar.gz\n"
        "    mkdir module && tar -xzf module.tar.gz -C module\n"
        "(or the 'Download' button of the model's Kaggle page), copy the folder "
        "here, then either pass its path as the handle, e.g. "
        "HubBackbone('/path/to/module'), or keep the URL handle and put the "
        f"unpacked files in {cache!r}, the cache folder tensorflow_hub uses for "
        f"this URL ({env_note}; the folder name is the SHA-1 of the handle)."
    )


def _gcs_unavailable_message(handle: str, reason: str) -> str:
    return (
        f"Could not reach Google Cloud Storage for the module {handle!r}: "
        f"{reason}. This machine seems to have no access to it. Copy the module "
        "on a machine that has, for example\n"
        f"    gsutil cp -r '{handle}' module\n"
        "(unpack it if it is a .tar.gz), copy the folder here and pass its path "
        "as the handle, e.g. HubBackbone('/path/to/module')."
    )


def _proxy_or_server(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlparse(url)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(parsed.hostname or ""):
        parsed = urllib.parse.urlparse(proxy if "://" in proxy else f"http://{proxy}")
    default_port = 443 if parsed.scheme == "https" else 80
    return parsed.hostname or "", parsed.port or default_port


def _probe(url: str, timeout: float) -> str | None:
    """Returns None when ``url``'s server (or proxy) accepts a TCP connection.

    The name look-up is not covered by socket timeouts, so the probe runs in a
    daemon thread that is abandoned after ``timeout`` seconds.
    """
    host, port = _proxy_or_server(url)
    if not host:
        return f"the handle has no host name ({url!r})"
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as error:
            outcome.append(f"cannot connect to {host}:{port} ({error})")

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"no answer from {host}:{port} within {timeout:g} s"
    return outcome[0]


def resolve_timeout(timeout: float | None = None) -> float:
    """The seconds allowed to connect and to each read of a hub download.

    ``timeout`` when given, else ``$KERAS_DLM_HUB_TIMEOUT``, else 10.
    """
    if timeout is None:
        text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
        if not text:
            return DEFAULT_TIMEOUT_S
        try:
            timeout = float(text)
        except ValueError:
            raise invalid_argument(
                TIMEOUT_VARIABLE, text, "a number of seconds > 0"
            ) from None
        name = TIMEOUT_VARIABLE
    else:
        name = "download_timeout"
    return check_number(name, timeout, low=0.0, low_inclusive=False)


def check_handle(handle: object) -> str:
    """Checks the type of a HubBackbone handle; returns it."""
    if not isinstance(handle, str):
        raise invalid_argument(
            "handle", handle, "a directory or a hub URL (a str)", error=TypeError
        )
    if not handle.strip():
        raise invalid_argument("handle", handle, "a directory or a hub URL")
    return handle


def resolve_handle(handle: str, *, timeout: float | None = None) -> str:
    """Returns the local directory of the SavedModel that ``handle`` names.

    Args:
        handle: a local directory (optionally ``file://``), or a URL or
            ``gs://`` location that tensorflow_hub resolves.
        timeout: seconds allowed to connect to the server and for each read
            of the download (see :func:`resolve_timeout`).

    Returns:
        A local (or ``gs://``) directory holding a SavedModel.

    Raises:
        FileNotFoundError: a local handle that is not a directory, or a
            directory without a SavedModel in it.
        ConnectionError: a URL handle that is not cached and cannot be fetched
            (no answer within the timeout included), or a ``gs://`` handle
            while Cloud Storage cannot be reached; the message says how to
            download the module elsewhere.
    """
    check_handle(handle)
    timeout = resolve_timeout(timeout)
    if not is_remote_handle(handle):
        path = handle[len("file://") :] if handle.startswith("file://") else handle
        path = os.path.expanduser(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f"`handle` {handle!r} is neither a directory holding a SavedModel "
                "nor a URL."
            )
        if not any(
            os.path.isfile(os.path.join(path, name)) for name in _SAVED_MODEL_FILES
        ):
            raise FileNotFoundError(
                f"`handle` {handle!r} is a directory without a SavedModel in it "
                "(no saved_model.pb); pass the folder that holds saved_model.pb "
                "and variables/."
            )
        return path
    scheme = urllib.parse.urlparse(handle).scheme
    if scheme == "gs":
        # TensorFlow's GCS client retries with back-off (minutes) where the
        # network silently drops packets, so check the API host first.
        reason = _probe(_GCS_PROBE_URL, timeout)
        if reason is not None:
            raise ConnectionError(_gcs_unavailable_message(handle, reason))
    if scheme not in ("http", "https"):
        return _deps.tensorflow_hub().resolve(handle)
    cached = cache_dir_for(handle)
    if os.path.isdir(cached) and os.listdir(cached):
        return cached
    reason = _probe(handle, timeout)
    if reason is not None:
        raise ConnectionError(_unavailable_message(handle, reason))
    # urlopen in tensorflow_hub takes the process-wide default socket timeout,
    # which bounds the connection and every read; without one a server that
    # stops answering blocks forever.
    hub = _deps.tensorflow_hub()
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        return hub.resolve(handle)
    except OSError as error:
        reason = (
            f"{error} (each connection and read may take {timeout:g} s; "
            f"`download_timeout=` or ${TIMEOUT_VARIABLE} changes that)"
        )
        raise ConnectionError(_unavailable_message(handle, reason)) from error
    finally:
        socket.setdefaulttimeout(previous)
