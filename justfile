# agentq: run `just` to list the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run the stack (one api-gateway, two queue-workers, one events-broadcaster) on SQLite and a local Redis, until Ctrl-C.
up:
    scripts/up.sh

# Run every test against the Redis at REDIS_URL (default redis://127.0.0.1:6379), then the
# end-to-end suite again on a Redis Cluster on loopback (scripts/redis-cluster.sh, ports 7000-7005)
# with the queue in 12 partitions.
test:
    [ -d tests/socketio/node_modules/socket.io-client ] || (cd tests/socketio && npm ci --no-audit --no-fund)
    scripts/redis-cluster.sh start
    status=0; \
    cargo test --workspace --all-targets --no-fail-fast || status=$?; \
    echo "end-to-end suite on a Redis Cluster ($(scripts/redis-cluster.sh url))"; \
    REDIS_URL="$(scripts/redis-cluster.sh url)" AGENTQ_PARTITIONS=12 cargo test --workspace --test e2e --no-fail-fast || status=$?; \
    exit $status

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
