"""The prompt library: one file per prompt in a folder (`PLAYGROUND_PROMPTS_DIR`, default `prompts/` in the data dir).

A prompt's name in the library is its file name without the extension; it is unique across both formats and must
stay inside the folder. Every write goes to a temporary file in the folder and is then renamed over the target, so a
file is never seen half written; a save carries the content hash the caller loaded (`Prompt.token`) and is refused
when the file changed on disk since.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.prompt_formats import dump_prompt, format_of, parse_prompt
from services.prompt_model import (
    MAX_FILE_BYTES,
    Prompt,
    PromptConflictError,
    PromptError,
    PromptExistsError,
    PromptFormat,
    PromptNameError,
    PromptNotFoundError,
    PromptParseError,
    too_large,
)
from services.store.location import data_dir

PROMPTS_DIR_ENV = "PLAYGROUND_PROMPTS_DIR"
EXTENSIONS: dict[PromptFormat, str] = {"prompty": ".prompty", "prompt.yml": ".prompt.yml"}
ALL_EXTENSIONS = (".prompty", ".prompt.yml", ".prompt.yaml")
SAFE_NAME = re.compile(r"^[\w][\w .()+-]{0,99}$")


@dataclass
class PromptSummary:
    """One row of the library list; a file that does not parse is listed with its error instead of its fields."""

    file_name: str  # the library name: the file name without extension
    path: Path
    format: PromptFormat
    name: str = ""
    description: str = ""
    model: str | None = None
    variables: list[str] = field(default_factory=list)
    modified: float = 0.0  # epoch seconds
    error: str | None = None


@dataclass
class SavedPrompt:
    """Where a prompt was written, the token for the next save, and what the format could not hold."""

    path: Path
    token: str
    notices: list[str] = field(default_factory=list)


def prompts_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The library folder: `PLAYGROUND_PROMPTS_DIR` when set, else `prompts/` in the data dir."""
    env = os.environ if environ is None else environ
    configured = env.get(PROMPTS_DIR_ENV, "").strip()
    return Path(configured).expanduser() if configured else data_dir(env) / "prompts"


def content_token(data: bytes) -> str:
    """The token a save compares: the SHA-256 of the file's bytes (an mtime can repeat within a second)."""
    return hashlib.sha256(data).hexdigest()


def split_name(file_name: str) -> tuple[str, PromptFormat | None]:
    """("summarize", "prompty") from "summarize.prompty"; a name without a known extension has no format."""
    lower = file_name.lower()
    for ext in ALL_EXTENSIONS:
        if lower.endswith(ext):
            return file_name[: -len(ext)], format_of(file_name)
    return file_name, None


def check_name(name: str) -> str:
    """The name if it is a plain file name inside the folder; PromptNameError saying why it is not."""
    if not name or not name.strip():
        raise PromptNameError("A prompt needs a name.")
    if "/" in name or "\\" in name or name.startswith(("~", ".")) or ".." in name or ":" in name or "\0" in name:
        raise PromptNameError(
            f"The name {name!r} would leave the prompts folder or hide the file: use letters, digits, spaces, "
            "'-', '_', '.', no '/', '\\', '..' or a leading '.'."
        )
    if not SAFE_NAME.match(name):
        raise PromptNameError(
            f"The name {name!r} has characters a file name should not (use letters, digits, spaces, - _ . ( ) +; "
            "at most 100)."
        )
    return name


def slug(text: str) -> str:
    """A file name from a prompt's display name ("Text Summarizer" -> "text-summarizer")."""
    cleaned = re.sub(r"[^\w]+", "-", text.strip().lower()).strip("-_")
    return cleaned[:80] or "prompt"


def _folder(folder: Path | None) -> Path:
    return Path(folder) if folder is not None else prompts_dir()


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(ALL_EXTENSIONS))


def _existing(folder: Path, stem: str) -> list[Path]:
    return [p for p in _files(folder) if split_name(p.name)[0].lower() == stem.lower()]


def _read(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise too_large(path.name, size)
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptParseError(f"{source}: not UTF-8 text (byte {exc.start + 1}).") from exc


def list_prompts(folder: Path | None = None, search: str = "") -> list[PromptSummary]:
    """Every prompt file in the folder, newest first; `search` matches name, description, model, variables, file."""
    rows: list[PromptSummary] = []
    needle = search.strip().lower()
    for path in _files(_folder(folder)):
        stem, fmt = split_name(path.name)
        row = PromptSummary(file_name=stem, path=path, format=fmt or "prompty", modified=path.stat().st_mtime)
        try:
            prompt = parse_prompt(_decode(_read(path), path.name), row.format, path.name)
            row.name, row.description = prompt.name or stem, prompt.description
            row.model, row.variables = prompt.model.deployment, list(prompt.variables)
        except PromptError as exc:
            row.name, row.error = stem, str(exc)
        haystack = " ".join([stem, row.name, row.description, row.model or "", *row.variables]).lower()
        if not needle or needle in haystack:
            rows.append(row)
    rows.sort(key=lambda r: r.modified, reverse=True)
    return rows


def _find(folder: Path, file_name: str) -> Path:
    stem, fmt = split_name(file_name)
    check_name(stem)
    matches = [p for p in _existing(folder, stem) if fmt is None or split_name(p.name)[1] == fmt]
    if not matches:
        raise PromptNotFoundError(f"No prompt named {file_name!r} in {folder}.")
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise PromptExistsError(f"Two prompts are named {stem!r} ({names}); open one by its full file name.")
    return matches[0]


def load_prompt(file_name: str, folder: Path | None = None) -> Prompt:
    """Read a prompt by its library name (or file name); `prompt.token` is what save_prompt compares."""
    path = _find(_folder(folder), file_name)
    data = _read(path)
    prompt = parse_prompt(_decode(data, path.name), format_of(path.name), path.name)
    prompt.path, prompt.token = path, content_token(data)
    return prompt


def _write_atomic(path: Path, data: bytes, *, replace: bool) -> None:
    """Write to a temp file in the same folder, then rename it into place (or link it: fails if the name exists)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)  # atomic create-if-absent: two saves of one new name cannot both win
            except FileExistsError as exc:
                raise PromptExistsError(f"A prompt file {path.name!r} already exists.") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _check_display_name(folder: Path, prompt: Prompt, own: Path | None) -> None:
    if not prompt.name:
        return
    for row in list_prompts(folder):
        if row.error is None and row.path != own and row.name.strip().lower() == prompt.name.strip().lower():
            raise PromptExistsError(f"Another prompt ({row.path.name}) is already named {row.name!r}.")


def save_prompt(
    prompt: Prompt,
    file_name: str | None = None,
    fmt: PromptFormat | None = None,
    *,
    expected_token: str | None = None,
    folder: Path | None = None,
) -> SavedPrompt:
    """Write the prompt as `<file_name>.<ext>` (default: from its name, and the format it came in, else .prompty).

    A new name (no `expected_token`) must not exist yet in either format, and no other prompt may have the same
    `name`; an existing file is overwritten only when `expected_token` matches its current content, else
    PromptConflictError. `prompt.path` and `prompt.token` are updated on success.
    """
    base = _folder(folder)
    if file_name is None and prompt.path is not None and prompt.path.parent == base:
        file_name = prompt.path.name  # saving what was loaded: same file, same extension
    stem, named_fmt = split_name(file_name) if file_name else (slug(prompt.name), None)
    check_name(stem)
    if named_fmt and fmt and named_fmt != fmt:
        raise PromptNameError(f"The name {file_name!r} is not a {fmt} file name.")
    fmt = named_fmt or fmt or prompt.source_format or "prompty"
    yaml_ext = bool(file_name) and file_name.lower().endswith(".prompt.yaml")
    path = base / (stem + (".prompt.yaml" if yaml_ext else EXTENSIONS[fmt]))
    dumped = dump_prompt(prompt, fmt)
    data = dumped.text.encode("utf-8")
    others = [p for p in _existing(base, stem) if p.name != path.name]
    if others:
        raise PromptExistsError(f"A prompt named {stem!r} already exists ({others[0].name}); choose another name.")
    if expected_token is None:
        _check_display_name(base, prompt, None)
        _write_atomic(path, data, replace=False)
    else:
        try:
            current = content_token(_read(path))
        except FileNotFoundError as exc:
            raise PromptConflictError(f"{path.name} was deleted since it was loaded; save it under a name.") from exc
        if current != expected_token:
            raise PromptConflictError(
                f"{path.name} was changed on disk since it was loaded; reload it (or save under another name) "
                "so that change is not overwritten."
            )
        _check_display_name(base, prompt, path)
        _write_atomic(path, data, replace=True)
    token = content_token(data)
    prompt.path, prompt.token = path, token
    return SavedPrompt(path=path, token=token, notices=dumped.notices)


def duplicate_prompt(file_name: str, new_name: str | None = None, folder: Path | None = None) -> SavedPrompt:
    """Copy a prompt, same format, as `new_name` (default "<name>-copy", "-copy-2", ...) titled "<name> (copy)"."""
    base = _folder(folder)
    prompt = load_prompt(file_name, base)
    assert prompt.path is not None
    stem = split_name(prompt.path.name)[0]
    if new_name is None:
        candidates = [f"{stem}-copy", *(f"{stem}-copy-{n}" for n in range(2, 1000))]
        new_name = next(c for c in candidates if not _existing(base, c))
    taken = {row.name.strip().lower() for row in list_prompts(base) if row.error is None}
    title, counter = f"{prompt.name or stem} (copy)", 2
    while title.lower() in taken:
        title, counter = f"{prompt.name or stem} (copy {counter})", counter + 1
    copy = prompt.model_copy(update={"name": title, "path": None, "token": None})
    return save_prompt(copy, new_name, prompt.source_format, folder=base)


def delete_prompt(file_name: str, expected_token: str | None = None, folder: Path | None = None) -> None:
    """Remove a prompt file; with `expected_token`, only if it is unchanged since it was loaded."""
    path = _find(_folder(folder), file_name)
    if expected_token is not None and content_token(_read(path)) != expected_token:
        raise PromptConflictError(f"{path.name} was changed on disk since it was loaded; it was not deleted.")
    path.unlink()


def import_prompt(
    data: bytes, upload_name: str, folder: Path | None = None, *, file_name: str | None = None
) -> SavedPrompt:
    """Add an uploaded file to the library as it is (its bytes, once they parse); never overwrites."""
    if len(data) > MAX_FILE_BYTES:
        raise too_large(upload_name, len(data))
    fmt = format_of(upload_name)
    stem = split_name(file_name or upload_name)[0]
    check_name(stem)
    prompt = parse_prompt(_decode(data, upload_name), fmt, upload_name)
    base = _folder(folder)
    if _existing(base, stem):
        raise PromptExistsError(f"A prompt named {stem!r} already exists; rename the file or choose another name.")
    _check_display_name(base, prompt, None)
    path = base / (stem + (".prompt.yaml" if upload_name.lower().endswith(".prompt.yaml") else EXTENSIONS[fmt]))
    _write_atomic(path, data, replace=False)
    return SavedPrompt(path=path, token=content_token(data), notices=prompt.notices)
