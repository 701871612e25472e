"""Branches and refs."""

from __future__ import annotations

import contextlib
import subprocess

from para.errors import BranchExists, GitError, InvalidRef, RepositoryHasNoCommits
from para.git.base import GitBase
from para.git.env import scrubbed_env


class Refs(GitBase):
    def require_commits(self) -> None:
        try:
            self._read("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        except GitError:
            raise RepositoryHasNoCommits(path=str(self.root)) from None

    def resolve(self, ref: str) -> str:
        """Full commit id of ``ref``, or InvalidRef."""
        try:
            return self._read(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
            )
        except GitError as exc:
            raise InvalidRef(ref=ref) from exc

    def current_branch(self) -> str | None:
        """The main checkout's branch, or None when HEAD is detached."""
        try:
            return self._read("symbolic-ref", "--quiet", "--short", "HEAD")
        except GitError:
            return None

    def branch_exists(self, branch: str) -> bool:
        try:
            self._read("show-ref", "--verify", "--quiet", f"refs/heads/{branch}")
        except GitError:
            return False
        return True

    def check_branch_name(self, branch: str) -> bool:
        """Whether ``branch`` names a branch as it is: git's rules, and no shorthand git
        would expand (``@`` is HEAD, ``@{-1}`` the previous branch) or read as an option."""
        if branch in ("@", "HEAD") or branch.startswith("-"):
            return False
        try:
            return self._read("check-ref-format", "--branch", branch) == branch
        except GitError:
            return False

    def rename_branch(self, old: str, new: str) -> None:
        if self.branch_exists(new):
            raise BranchExists(branch=new)
        self._git("branch", "-m", "--", old, new)

    def delete_branch(self, branch: str) -> None:
        self._git("branch", "-D", "--", branch)

    def branches(self, pattern: str) -> dict[str, str]:
        """Branch name -> commit id for branches matching ``refs/heads/<pattern>``."""
        out = self._read(
            "for-each-ref", "--format=%(refname:strip=2) %(objectname)", f"refs/heads/{pattern}"
        )
        result: dict[str, str] = {}
        for line in out.splitlines():
            name, _, sha = line.partition(" ")
            result[name] = sha
        return result

    def branch_tip(self, branch: str) -> str | None:
        try:
            return self._read("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        except GitError:
            return None

    def has_commit(self, sha: str) -> bool:
        try:
            self._read("cat-file", "-e", f"{sha}^{{commit}}")
        except GitError:
            return False
        return True

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        proc = subprocess.run(
            ["git", "merge-base", "--is-ancestor", ancestor, descendant],
            cwd=self.root,
            env=scrubbed_env(),
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    def update_ref(self, ref: str, new: str, old: str | None = None) -> None:
        """Point ``ref`` at ``new``; with ``old``, only if it still points there."""
        self._git("update-ref", "-m", "para", ref, new, *([old] if old else []))

    def delete_ref(self, ref: str) -> None:
        with contextlib.suppress(GitError):
            self._read("update-ref", "-d", ref)

    def refs_for_session(self, base: str | None) -> dict[str, str]:
        """The refs a container's repository starts with besides its branch: the tags
        (tools such as setuptools-scm describe from them) and the base branch."""
        patterns = ["refs/tags/"]
        if base and self.branch_exists(base):
            patterns.append(f"refs/heads/{base}")
        out = self._read("for-each-ref", "--format=%(objectname) %(refname)", *patterns)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition(" ")
            if ref:
                refs[ref] = sha
        return refs
