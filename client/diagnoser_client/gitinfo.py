"""The commit a script ran from, read straight from .git (no `git` subprocess: it may be absent, and a
subprocess at crash time costs tens of milliseconds)."""

from __future__ import annotations

import os


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return None


def find_git_dir(start: str) -> str | None:
    """The .git folder of the repository holding `start`, following `gitdir:` files (worktrees, submodules)."""
    path = os.path.abspath(start)
    if os.path.isfile(path):
        path = os.path.dirname(path)
    for _ in range(64):
        candidate = os.path.join(path, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):
            text = _read(candidate) or ""
            if text.startswith("gitdir:"):
                target = text[len("gitdir:"):].strip()
                return os.path.normpath(os.path.join(path, target))
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return None


def _resolve_ref(git_dir: str, ref: str) -> str | None:
    common = git_dir
    commondir = _read(os.path.join(git_dir, "commondir"))
    if commondir:
        common = os.path.normpath(os.path.join(git_dir, commondir))
    for base in (git_dir, common):
        value = _read(os.path.join(base, *ref.split("/")))
        if value:
            return value
    packed = _read(os.path.join(common, "packed-refs")) or ""
    for line in packed.splitlines():
        if line.endswith(" " + ref) and not line.startswith("#"):
            return line.split(" ", 1)[0]
    return None


def git_info(start: str) -> dict[str, str] | None:
    """{"commit": sha, "branch": name} for the repository holding `start`, or None outside a repository."""
    git_dir = find_git_dir(start)
    if not git_dir:
        return None
    head = _read(os.path.join(git_dir, "HEAD"))
    if not head:
        return None
    info: dict[str, str] = {}
    if head.startswith("ref:"):
        ref = head[4:].strip()
        if ref.startswith("refs/heads/"):
            info["branch"] = ref[len("refs/heads/"):]
        commit = _resolve_ref(git_dir, ref)
        if commit:
            info["commit"] = commit
    else:
        info["commit"] = head
    return info or None
