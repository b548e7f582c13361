import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { applySettings, ConfigError, DEFAULT_SETTINGS } from '../../src/config/schema.js';
import { classifyAddress, isAllowedTarget, literalInternalTarget, parseNetworks } from '../../src/config/networks.js';

const kindOf = (host: string) => classifyAddress(host)?.kind ?? 'name';

test('the address classifier sees through every form of an internal address', () => {
  const cases: [string, string][] = [
    // loopback, however it is written
    ['127.0.0.1', 'loopback'], ['127.1', 'loopback'], ['2130706433', 'loopback'], ['0x7f.1', 'loopback'],
    ['0x7f000001', 'loopback'], ['017700000001', 'loopback'], ['0177.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'], ['[::1]', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'],
    // IPv4 inside IPv6
    ['::ffff:127.0.0.1', 'loopback'], ['[::ffff:7f00:1]', 'loopback'], ['::ffff:10.1.2.3', 'private'], ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'], ['2002:7f00:1::', 'loopback'], ['::127.0.0.1', 'loopback'], ['::ffff:0:7f00:1', 'loopback'],
    // unspecified
    ['0.0.0.0', 'unspecified'], ['0', 'unspecified'], ['::', 'unspecified'], ['[::]', 'unspecified'], ['::ffff:0.0.0.0', 'unspecified'],
    // private, link-local, multicast, reserved
    ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'], ['100.64.0.1', 'private'],
    ['fc00::1', 'private'], ['fd12:3456::1', 'private'], ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'], ['[fe80::1%eth0]', 'link-local'],
    ['febf::1', 'link-local'], ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'], ['255.255.255.255', 'reserved'], ['240.0.0.1', 'reserved'],
    // public, and just outside the internal ranges
    ['8.8.8.8', 'public'], ['172.15.255.255', 'public'], ['172.32.0.0', 'public'], ['192.169.0.1', 'public'], ['11.0.0.1', 'public'],
    ['2001:db8::1', 'public'], ['::ffff:8.8.8.8', 'public'], ['fec0::1', 'private'],
    // names (checked after DNS resolution), and forms that are no address
    ['crm.example', 'name'], ['1.2.3.4.5', 'name'], ['127.0.0.256', 'name'], ['256.1', 'name'], ['0x1g', 'name'], ['08.0.0.1', 'name'],
  ];
  for (const [host, kind] of cases) assert.equal(kindOf(host), kind, host);
  assert.equal(classifyAddress('::ffff:127.0.0.1')?.range, '127.0.0.0/8', 'a mapped address is reported as its IPv4 range');
  assert.equal(classifyAddress('127.1')?.value, classifyAddress('127.0.0.1')?.value);
});

test('the allow-list of config.yaml lets exactly the listed internal networks through', () => {
  const none = parseNetworks([]);
  const one = parseNetworks(['127.0.0.1']);
  const lan = parseNetworks(['10.0.0.0/8', 'fd00::/8']);
  const allowed = (host: string, list: typeof none) => isAllowedTarget(classifyAddress(host)!, list);
  assert.equal(allowed('8.8.8.8', none), true, 'public addresses need no listing');
  for (const host of ['127.0.0.1', '::1', '10.0.0.1', '169.254.169.254', '0.0.0.0', '::ffff:127.0.0.1']) assert.equal(allowed(host, none), false, host);
  assert.equal(allowed('127.0.0.1', one), true);
  assert.equal(allowed('::ffff:127.0.0.1', one), true, 'the IPv6 form of a listed IPv4 address');
  assert.equal(allowed('127.0.0.2', one), false, 'one address is /32');
  assert.equal(allowed('::1', one), false);
  assert.equal(allowed('10.200.3.4', lan), true);
  assert.equal(allowed('fd00::5', lan), true);
  assert.equal(allowed('192.168.0.1', lan), false);

  assert.deepEqual(literalInternalTarget('http://0x7f.1:8080/hook', none), { host: '127.0.0.1', range: '127.0.0.0/8' });
  assert.deepEqual(literalInternalTarget('http://[::ffff:169.254.169.254]/latest', none), { host: '::ffff:a9fe:a9fe', range: '169.254.0.0/16' });
  assert.deepEqual(literalInternalTarget('http://localhost:3000/', none), { host: 'localhost', range: '127.0.0.0/8' });
  assert.equal(literalInternalTarget('https://crm.example/lookup', none), null, 'names are checked when they are resolved');
  assert.equal(literalInternalTarget('http://127.0.0.1:8080/hook', one), null);
});

test('notify.allow_private_networks is a machine setting: validated field by field in config.yaml and env, unknown to tenant settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smc-ssrf-'));
  // No FreePBX credential discovery: this machine's own files stay unread.
  const env = { SMC_FREEPBX_CONF: join(dir, 'none.conf'), SMC_AMPORTAL_CONF: join(dir, 'none.conf') };
  const file = join(dir, 'config.yaml');
  const load = (yaml: string, extraEnv: Record<string, string> = {}) => {
    writeFileSync(file, yaml);
    return loadConfig({ path: file, env: { ...env, ...extraEnv } });
  };
  const refusedField = (yaml: string) => {
    try {
      load(yaml);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.field;
    }
    return 'accepted';
  };
  try {
    assert.deepEqual(load('pbx: freepbx\n').notify.allowPrivateNetworks, [], 'nothing internal is allowed by default');
    assert.deepEqual(load('notify:\n  allow_private_networks:\n    - 10.0.0.0/8\n    - fd00::/8\n    - 127.0.0.1\n').notify.allowPrivateNetworks, ['10.0.0.0/8', 'fd00::/8', '127.0.0.1']);
    assert.equal(refusedField('notify:\n  allow_private_networks: [10.0.0.0/8, 10.0.0.0/33]\n'), 'notify.allow_private_networks[1]');
    assert.equal(refusedField('notify:\n  allow_private_networks: [127.1]\n'), 'notify.allow_private_networks[0]', 'networks are written plainly');
    assert.equal(refusedField('notify:\n  allow_private_networks: true\n'), 'notify.allow_private_networks');
    assert.deepEqual(load('pbx: freepbx\n', { SMC_NOTIFY_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32, fd00::/8' }).notify.allowPrivateNetworks, ['127.0.0.1/32', 'fd00::/8']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const key of ['allowPrivateNetworks', 'allow_private_networks', 'notify']) {
    assert.throws(() => applySettings(DEFAULT_SETTINGS, { [key]: ['0.0.0.0/0'] }), (err: unknown) => err instanceof ConfigError && err.field === key, `${key} is no tenant setting`);
  }
});
