# agentq: run `just` to list the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run the whole stack (api-gateway, workers, broadcaster) on SQLite and a local Redis.
up:
    @echo "just up: the services (api-gateway, queue-worker, events-broadcaster) are not built yet."
    @echo "What exists today is the queue core: run 'just test' and 'just bench queue'."

# Run every test against the Redis at REDIS_URL (default redis://127.0.0.1:6379).
test:
    cargo test --workspace --all-targets

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
