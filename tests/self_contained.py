"""self_contained.py -- fails when a file of the repository names a folder outside it.

A user's clone is all they have: nothing beside it, so nothing tracked may read, or tell anyone to
read, the sibling folder the protocol notes were first kept in. Checks every file git tracks (and
new files not yet added, unless ignored); outside a git checkout (a source archive), every file
under the source tree except build trees and local state. Prints file:line for each hit.

Usage: /usr/bin/python3 tests/self_contained.py [SOURCE_DIR]     exit 0 clean, 1 a hit, 2 an error
"""
import os
import re
import subprocess
import sys
from pathlib import Path

# Spelled (here and in the comments) so that this file does not match itself.
OUTSIDE = re.compile(
    rb"\.\.[/\\]shared\b"                  # the sibling folder, relative to the repository
    rb"|shared[/\\]socialboards"           # the protocol folder in it, however reached
    rb"|[\"'](?:shared|socialboards)[\"']"  # the same path joined from quoted pieces (pathlib, os.path.join)
)
# Not part of the source when walking a tree that is not a git checkout.
SKIPPED_ANYWHERE = {".git", "node_modules", "__pycache__"}
SKIPPED_AT_TOP = {"build", ".run"}


def git_files(root):
    """The files git tracks, plus untracked ones it does not ignore; None outside a checkout."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    names = sorted({name for name in out.stdout.decode("utf-8", "surrogateescape").split("\0") if name})
    return [root / name for name in names]


def walked_files(root):
    files = []
    for folder, dirs, names in os.walk(root):
        top = Path(folder) == root
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_ANYWHERE and not (top and d in SKIPPED_AT_TOP))
        files += [Path(folder) / name for name in sorted(names)]
    return files


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]).resolve()
    if not (root / "CMakeLists.txt").is_file():
        print(f"self_contained: {root} is not the source tree (no CMakeLists.txt)", file=sys.stderr)
        return 2
    files = git_files(root)
    how = "tracked by git"
    if files is None:
        files, how = walked_files(root), "under the source tree (not a git checkout)"
    hits = []
    checked = 0
    for path in files:
        if path.is_symlink() or not path.is_file():
            continue   # deleted in the work tree but still tracked, or a link to elsewhere
        checked += 1
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if OUTSIDE.search(line):
                text = line.decode("utf-8", "replace").strip()
                hits.append(f"{path.relative_to(root)}:{number}: {text[:160]}")
    if hits:
        print("These lines name a folder outside the repository; a user's clone has none beside it.\n"
              "Use the repository's own files (tests/fixtures/ for payloads) or say it in words:")
        print("\n".join(hits))
        return 1
    if checked == 0:
        print(f"self_contained: no files found {how} in {root}", file=sys.stderr)
        return 2
    print(f"{checked} files {how}: none names a folder outside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
