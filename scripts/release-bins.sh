#!/usr/bin/env bash
# Builds every binary of the workspace in release, with the workspace's one feature set, and
# prints the folder cargo put them in. One feature set: `cargo build -p one-package` unifies
# features differently and rebuilds most dependencies for each script; this way the first
# script's build serves all the others. The folder: CARGO_TARGET_DIR (or cargo's config) may
# move it away from ./target.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins >&2
cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"] + "/release")'
