import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { routeLabelsOf, routePaths, routesFromTables, type FreepbxRouteTables } from '../src/cdr/pbx-routes.js';
import type { RoutePath } from '../src/detect/verdict.js';
import { CDR_COLUMNS, type CdrRow } from '../src/cdr/row.js';
import { readTsv } from '../src/cdr/tsv.js';
import { explainRows } from '../src/cli/explain.js';
import { extensionTest } from '../src/detect/channels.js';
import { classifyCall, type ClassifyOptions } from '../src/detect/classify.js';
import type { Verdict } from '../src/detect/verdict.js';
import { fixtureText, repoRoot } from './harness/db.js';
import { checkCalls } from './helpers/lab-labels.js';
import { failoverOnlyRow, labConfigTables, labRoutes, labS03Rows } from './helpers/pbx-config.js';

// The route from the PBX's own configuration (issue 22, item 2): FreePBX's inbound route for the
// DID and the failovers after it name the queue a caller waited in when the caller's rows name
// only the voicemail box or hang-up the failover sent them to.

const options = (tables?: FreepbxRouteTables): ClassifyOptions => ({
  isExtension: extensionTest(''), queueAbandonMinWait: 10, countIvrAbandon: false,
  ...(tables ? { routes: routesFromTables(tables), labels: routeLabelsOf(routesFromTables(tables)) } : {}),
});
const way = (p: RoutePath) => p.steps.map((s) => `${s.via === 'start' || s.via === 'destination' ? '' : `${s.via}${s.choice ?? ''}:`}${s.kind} ${s.id}`).join(' → ') + ` [${p.ends}]`;
const withQueueFailover = (dest: string): FreepbxRouteTables => {
  const lab = labConfigTables();
  return { ...lab, queues_config: lab.queues_config!.map((q) => ({ ...q, dest })) };
};

test("the lab's DIDs resolve through FreePBX's configuration: queue failover, IVR choices and timeout, follow-me's normal behaviour", () => {
  const routes = labRoutes();
  assert.deepEqual(routePaths(routes, '5551000', '0612345003').map(way), ['did 5551000 → queue 400 → failover:voicemail 104 [end]']);
  assert.deepEqual(routePaths(routes, '5551003', '').map(way), [
    'did 5551003 → ivr 1 → choice1:queue 400 → failover:voicemail 104 [end]',
    'did 5551003 → ivr 1 → timeout:hangup hangup [end]',
  ]);
  assert.deepEqual(routePaths(routes, '5551002', '').map(way), ['did 5551002 → ringgroup 600 → failover:hangup hangup [end]']);
  // ext-local,105,dest is "normal extension behaviour": the extension itself, not a loop.
  assert.deepEqual(routePaths(routes, '5551005', '').map(way), ['did 5551005 → extension 105 [end]']);
  assert.deepEqual(routePaths(routes, '5559999', ''), [], 'a DID with no inbound route and no catch-all');
  assert.equal(routePaths(routes, '5551000', '')[0]!.steps[1]!.name, 'Sales');
});

test('resolution is cycle-safe, bounded, names missing targets, and picks the inbound route FreePBX would', () => {
  const routes = routesFromTables({
    incoming: [
      { extension: '1', cidnum: '', destination: 'ext-queues,401,1' },
      { extension: '2', cidnum: '', destination: 'ext-queues,999,1' },
      { extension: '3', cidnum: '', destination: 'ext-queues,500,1' },
      { extension: '4', cidnum: '', destination: 'ext-group,601,1' },
      { extension: '4', cidnum: '0700', destination: 'from-did-direct,101,1' },
      { extension: '', cidnum: '', destination: 'app-blackhole,busy,1' },
    ],
    queues_config: [
      { extension: '401', dest: 'ext-group,601,1' },
      ...Array.from({ length: 12 }, (_, i) => ({ extension: String(500 + i), dest: `ext-queues,${501 + i},1` })),
    ],
    ringgroups: [{ grpnum: '601', postdest: 'ext-queues,401,1' }],
  });
  assert.deepEqual(routePaths(routes, '1', '').map(way), ['did 1 → queue 401 → failover:ringgroup 601 → failover:queue 401 [loop]']);
  assert.deepEqual(routePaths(routes, '2', '').map(way), ['did 2 → queue 999 [missing]']);
  const long = routePaths(routes, '3', '');
  assert.equal(long.length, 1);
  assert.equal(long[0]!.ends, 'limit');
  assert.ok(long[0]!.steps.length <= 8);
  assert.deepEqual(routePaths(routes, '4', '0700').map(way), ['did 4 → extension 101 [end]'], 'a DID + caller ID route wins');
  assert.deepEqual(routePaths(routes, '4', '0799').map(way)[0], 'did 4 → ringgroup 601 → failover:queue 401 → failover:ringgroup 601 [loop]');
  assert.deepEqual(routePaths(routes, '7', '').map(way), ['did 7 → hangup busy [end]'], 'the catch-all route');
});

test('S03-shaped: a caller row naming the failover voicemail is attributed to queue 400 with the 20 s wait', () => {
  const row = failoverOnlyRow('voicemail');
  // Before: the rows alone name no queue, so the call stayed on its inbound route with no wait.
  const alone = classifyCall([row], options());
  assert.deepEqual([alone.verdict, alone.route.kind, alone.waitSeconds], ['missed', 'route', 0]);

  const v = classifyCall([row], options(labConfigTables()));
  assert.deepEqual([v.verdict, v.route.kind, v.route.id, v.waitSeconds, v.voicemail?.box], ['missed', 'queue', '400', 20, '104']);
  assert.deepEqual(v.reasons, ['route_from_config', 'voicemail', 'queue_failover']);
  assert.ok(v.explanation.includes("Route from the PBX's configuration: DID 5551000 → queue 400 Sales → failover voicemail 104 Dave."), v.explanation.join('\n'));
  assert.ok(v.explanation.includes('Waited 20 s in the queue until the PBX sent the caller on; no phone rang.'));
});

test('a queue failover to hang-up (app-blackhole, the wait as duration) is a queue miss, not a hang-up before ringing', () => {
  const row = failoverOnlyRow('hangup');
  const alone = classifyCall([row], options());
  assert.deepEqual([alone.verdict, alone.reasons], ['abandoned', ['hung_up_before_ringing']]);

  const v = classifyCall([row], options(withQueueFailover('app-blackhole,hangup,1')));
  assert.deepEqual([v.verdict, v.route.kind, v.route.id, v.waitSeconds, v.reasons], ['missed', 'queue', '400', 20, ['route_from_config', 'queue_failover']]);
  // A failover after a wait shorter than queue_abandon_min_wait counts no more than a short queue hang-up does.
  const short = classifyCall([{ ...row, duration: 4, billsec: 4 }], options(withQueueFailover('app-blackhole,hangup,1')));
  assert.deepEqual([short.verdict, short.route.id, short.waitSeconds], ['abandoned', '400', 4]);
});

test('the real S03 (agents rang, then the failover row): same route, and the wait is the time until the failover', () => {
  const before = classifyCall(labS03Rows(), options());
  const after = classifyCall(labS03Rows(), options(labConfigTables()));
  assert.deepEqual([before.route.id, before.waitSeconds], ['400', 15]);
  assert.deepEqual([after.verdict, after.route.id, after.waitSeconds, after.rang.map((r) => r.ext)], ['missed', '400', 20, ['101', '102']]);
  assert.ok(after.explanation.includes('20 s in Queue 400 (Sales) before the PBX sent the caller on.'), after.explanation.join('\n'));
});

test('a time condition: when both branches lead to what the rows show, both are named and the route stays as the rows say', () => {
  const lab = labConfigTables();
  const tables: FreepbxRouteTables = {
    ...lab,
    incoming: lab.incoming!.map((r) => (r.extension === '5551000' ? { ...r, destination: 'timeconditions,1,1' } : r)),
    timeconditions: [{ timeconditions_id: 1, displayname: 'Office hours', truegoto: 'ext-queues,400,1', falsegoto: 'ext-local,vmu104,1' }],
  };
  assert.deepEqual(routePaths(routesFromTables(tables), '5551000', '').map(way), [
    'did 5551000 → timecondition 1 → matched:queue 400 → failover:voicemail 104 [end]',
    'did 5551000 → timecondition 1 → unmatched:voicemail 104 [end]',
  ]);
  const v = classifyCall([failoverOnlyRow('voicemail')], options(tables));
  assert.deepEqual([v.verdict, v.route.kind, v.waitSeconds, v.reasons], ['missed', 'route', 0, ['route_from_config', 'voicemail']]);
  assert.equal(v.configuredRoute?.length, 2);
  assert.ok(v.explanation.some((l) => l.startsWith("Routes from the PBX's configuration that lead here; the rows do not tell which one the call took: DID 5551000 → time condition 1 Office hours → in its time queue 400 Sales")), v.explanation.join('\n'));

  // Out of hours straight to a hang-up: the rows pick the branch, no queue is claimed.
  const closed: FreepbxRouteTables = { ...tables, timeconditions: [{ timeconditions_id: 1, displayname: 'Office hours', truegoto: 'ext-queues,400,1', falsegoto: 'app-blackhole,hangup,1' }] };
  const hungUp = classifyCall([failoverOnlyRow('hangup')], options(closed));
  assert.deepEqual([hungUp.verdict, hungUp.route.kind, hungUp.reasons], ['abandoned', 'route', ['route_from_config', 'hung_up_before_ringing']]);
});

test('with the configuration, every labelled call of the FreePBX 17 lab still gets the right verdict', () => {
  const result = explainRows(readTsv(fixtureText('cdr.tsv', 'freepbx17-lab')), { routes: labRoutes() });
  checkCalls(new Map(result.calls.map((v) => [v.linkedid, v])), { set: 'freepbx17-lab', knownGaps: new Set(['S19.call']) });
  const reasoned = result.calls.filter((v) => v.reasons.includes('route_from_config')).map((v) => v.linkedid);
  assert.deepEqual(reasoned, ['1796243743.57'], 'only S03 shows a failover');
});

test('`smc explain --pbx-config` attributes the S03-shaped calls to queue 400 with the wait (the service\'s code path)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smc-route-'));
  try {
    const rows: CdrRow[] = [failoverOnlyRow('voicemail'), failoverOnlyRow('hangup', '1796243743.99')];
    const tsv = [CDR_COLUMNS.join('\t'), ...rows.map((r) => CDR_COLUMNS.map((c) => String(r[c])).join('\t'))].join('\n') + '\n';
    writeFileSync(join(dir, 'cdr.tsv'), tsv);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(withQueueFailover('ext-local,vmu104,1')));
    const run = (...args: string[]) =>
      execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), 'explain', '--cdr-file', join(dir, 'cdr.tsv'), '--json', ...args], { encoding: 'utf8' })
        .trim().split('\n').map((line) => JSON.parse(line) as Verdict);
    const [voicemail, hangup] = run('--pbx-config', join(dir, 'config.json'));
    assert.deepEqual([voicemail!.verdict, voicemail!.route.label, voicemail!.waitSeconds], ['missed', 'Queue 400 (Sales)', 20]);
    assert.ok(voicemail!.explanation.includes("Route from the PBX's configuration: DID 5551000 → queue 400 Sales → failover voicemail 104 Dave."));
    // The lab's queue fails over to voicemail: a hang-up row is not on its way, so nothing is claimed.
    assert.deepEqual([hangup!.verdict, hangup!.route.kind], ['abandoned', 'route']);
    assert.deepEqual(run().map((v) => v.route.kind), ['route', 'route'], 'without --pbx-config the rows alone decide');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
