// How `smc serve` starts and stops its parts (src/cli/services.ts). Once, under CI's load, a
// SIGTERM that came the moment the pages answered stopped every part but the one still
// starting (the hourly audit anchor), whose timer then kept the process alive for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runServices, type Service } from '../src/cli/services.js';

/** A service that records what happens to it; its start waits for `gate` when one is given. */
function service(name: string, events: string[], gate?: Promise<void>, failStart?: Error, failStop?: Error): Service {
  return {
    name,
    async start() {
      events.push(`${name} starting`);
      await gate;
      if (failStart) throw failStart;
      events.push(`${name} started`);
    },
    async stop() {
      events.push(`${name} stopped`);
      if (failStop) throw failStop;
    },
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('a stop asked for while a service starts lets it finish, stops it with the others in reverse, and starts no further one', async () => {
  const events: string[] = [];
  const gate = deferred();
  const running = runServices(
    [service('sync', events), service('anchor', events, gate.promise), service('late', events)],
    async () => void events.push('pools closed'),
    (line) => events.push(line),
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ['sync starting', 'sync started', 'anchor starting']);
  const stopped = running.stop('SIGTERM');
  gate.resolve();
  await stopped;
  await running.started;
  assert.deepEqual(events, [
    'sync starting', 'sync started', 'anchor starting', 'stopping (SIGTERM)', 'anchor started', 'anchor stopped', 'sync stopped', 'pools closed',
  ]);
});

test('a service that fails to start: those started stop in reverse, the rest never start, and the error reaches the caller', async () => {
  const events: string[] = [];
  const running = runServices(
    [service('sync', events), service('notifier', events), service('web', events, undefined, new Error('cannot listen on 127.0.0.1:8093')), service('anchor', events)],
    async () => void events.push('pools closed'),
    (line) => events.push(line),
  );
  await assert.rejects(running.started, /cannot listen on 127\.0\.0\.1:8093/);
  assert.deepEqual(events, [
    'sync starting', 'sync started', 'notifier starting', 'notifier started', 'web starting', 'stopping (start failed)', 'notifier stopped', 'sync stopped', 'pools closed',
  ]);
});

test('two signals stop once; a part that fails to stop is logged and the others still stop', async () => {
  const events: string[] = [];
  const running = runServices(
    [service('sync', events), service('notifier', events, undefined, undefined, new Error('outbox busy')), service('web', events)],
    async () => void events.push('pools closed'),
    (line) => events.push(line),
  );
  await running.started;
  await Promise.all([running.stop('SIGTERM'), running.stop('SIGINT')]);
  assert.deepEqual(events.slice(6), [
    'stopping (SIGTERM)', 'web stopped', 'notifier stopped', 'notifier did not stop cleanly: outbox busy', 'sync stopped', 'pools closed',
  ]);
});
