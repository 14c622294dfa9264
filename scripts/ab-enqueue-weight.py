# enqueue.lua's Redis CPU per job, before fair-share weights (11 arguments a job) and after
# (12, the last the project's weight), as Redis counts it (INFO commandstats, EVALSHA's usec),
# interleaved round by round with the order flipped every other round; medians of the ratios.
# Jobs of 100 projects, payloads of 200 bytes; batches of 1,000 and of 4 (what a partition of
# a 12-partition queue sends). Needs a local Redis on 6379 and `pip install redis`:
#   mkdir -p /tmp/ab && git show 9c874be:crates/queue/lua/enqueue.lua > /tmp/ab/old.lua
#   cp crates/queue/lua/enqueue.lua /tmp/ab/new.lua && python3 scripts/ab-enqueue-weight.py 15
import statistics, sys, uuid, redis
r = redis.Redis(port=6379)
old = r.register_script(open('/tmp/ab/old.lua').read())
new = r.register_script(open('/tmp/ab/new.lua').read())
PAYLOAD = 'x' * 200
def args(n, group, weight):
    out = []
    for i in range(n):
        out += [str(uuid.uuid4()), '3', '3', '1000', str(i % 100 + 1), '7', PAYLOAD, '', '', '', '']
        if group == 12:
            out.append(weight)
    return out
def run(script, group, weight, batch, calls):
    prefix = 'aq:{ab%s}:' % uuid.uuid4().hex[:8]
    keys = [prefix + k for k in ['wait', 'events', 'marker', 'held', 'turn:@now', 'blocked', 'failed']]
    batches = [args(batch, group, weight) for _ in range(calls)]
    r.config_resetstat()
    for a in batches:
        script(keys=keys, args=[prefix, batch] + a)
    usec = r.info('commandstats')['cmdstat_evalsha']['usec']
    for k in r.scan_iter(prefix + '*', count=10000):
        r.delete(k)
    return usec / (batch * calls)
for batch, calls in [(1000, 20), (4, 5000)]:
    ratios, ratios3 = [], []
    for _ in range(int(sys.argv[1])):
        if _ % 2 == 0:
            a = run(old, 11, None, batch, calls)
            b = run(new, 12, '1', batch, calls)
            c = run(new, 12, '3', batch, calls)
        else:
            c = run(new, 12, '3', batch, calls)
            b = run(new, 12, '1', batch, calls)
            a = run(old, 11, None, batch, calls)
        ratios.append(b / a); ratios3.append(c / a)
    print(f'batch {batch}: new (weight 1) / old median x{statistics.median(ratios):.3f} '
          f'range x{min(ratios):.2f}-x{max(ratios):.2f}; weight 3 / old x{statistics.median(ratios3):.3f}; '
          f'old {a:.2f} us/job')
