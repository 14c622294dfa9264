#!/usr/bin/env node
'use strict';
// Redis' own CPU time per drained job under BullMQ, in the drain scenarios of
// ../shared/anchors/bullmq-core (same payload, job options and queue name), which does not
// measure it. `just bench queue` runs it right after that bench, with its node_modules:
//   NODE_PATH=target/bench/bullmq-core/node_modules node scripts/bullmq-redis-cpu.js OUT.json
// For each concurrency (5, 50), RUNS runs (default 3): FLUSHALL, 20,000 jobs added in batches of 1,000,
// `INFO cpu`, one Worker drains them with a no-op processor, `INFO cpu` again. Writes the
// medians as {"c5_redisCpuUsPerJob": …, "c50_redisCpuUsPerJob": …}.
const fs = require('fs');
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const QUEUE = 'agent-execution';
const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const CONNECTION = {
  host: url.hostname,
  port: Number(url.port || 6379),
  username: decodeURIComponent(url.username) || undefined,
  password: decodeURIComponent(url.password) || undefined,
  maxRetriesPerRequest: null,
};
const JOBS = 20000;
// RUNS=1 when `just bench queue` interleaves it with agentq's runs
const RUNS = Number(process.env.RUNS || 3);
const OPTS = {
  removeOnComplete: { age: 86400, count: 1000 },
  attempts: 3,
  backoff: { type: 'exponential', delay: 5000 },
};

// The anchor's payload: what the seed's POST /api/agent-execution/queue puts in a job.
function payload(i) {
  return {
    taskId: (i % 100) + 1,
    agentId: (i % 10) + 1,
    userId: 1,
    metadata: { priority: 'medium', estimatedHours: 4, retryCount: 0 },
    context: { dependencies: [1, 2, 3], relatedTasks: [4, 5], memoryIds: ['m-1', 'm-2'] },
    mcpConfigs: [{ name: 'filesystem', command: 'npx', args: ['-y', '@mcp/fs'] }],
    queuedAt: '2025-01-01T00:00:00.000Z',
  };
}

async function redisCpuSeconds(redis) {
  const info = await redis.info('cpu');
  return ['used_cpu_sys', 'used_cpu_user']
    .map((name) => Number(info.match(new RegExp(`${name}:([0-9.]+)`))[1]))
    .reduce((a, b) => a + b, 0);
}

async function drainOnce(redis, concurrency) {
  await redis.flushall();
  const queue = new Queue(QUEUE, { connection: CONNECTION });
  for (let off = 0; off < JOBS; off += 1000) {
    const chunk = [];
    for (let i = off; i < off + 1000; i++) chunk.push({ name: QUEUE, data: payload(i), opts: OPTS });
    await queue.addBulk(chunk);
  }
  const before = await redisCpuSeconds(redis);
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const worker = new Worker(QUEUE, async () => {}, { connection: CONNECTION, concurrency });
  worker.on('completed', () => {
    if (++done === JOBS) finish();
  });
  await finished;
  const after = await redisCpuSeconds(redis);
  await worker.close();
  await queue.close();
  return ((after - before) * 1e6) / JOBS;
}

async function main() {
  const out = process.argv[2];
  const redis = new IORedis(CONNECTION);
  const result = {};
  for (const concurrency of [5, 50]) {
    const runs = [];
    for (let run = 1; run <= RUNS; run++) {
      const us = await drainOnce(redis, concurrency);
      console.error(`[bullmq redis cpu c${concurrency} run ${run}/${RUNS}] ${us.toFixed(1)} µs/job`);
      runs.push(us);
    }
    runs.sort((a, b) => a - b);
    result[`c${concurrency}_redisCpuUsPerJob`] = runs[Math.floor(runs.length / 2)];
  }
  await redis.quit();
  fs.writeFileSync(out, JSON.stringify(result, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
