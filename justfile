# agentq: run `just` to list the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run the stack (one api-gateway, two queue-workers, one events-broadcaster) on SQLite and a local Redis, until Ctrl-C.
up:
    scripts/up.sh

# Run every test against the Redis at REDIS_URL (default redis://127.0.0.1:6379).
test:
    [ -d tests/socketio/node_modules/socket.io-client ] || (cd tests/socketio && npm ci --no-audit --no-fund)
    cargo test --workspace --all-targets --no-fail-fast

# Clippy with warnings as errors, and the format check.
lint:
    cargo clippy --workspace --all-targets -- -D warnings
    cargo fmt --all --check

# Format the code.
fmt:
    cargo fmt --all

# Benchmarks beside their references: `just bench` runs all, `just bench queue` one.
bench which="all":
    scripts/bench.sh {{which}}
