import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { AmiError, originateCallback, probeAmi, type AmiConfig } from '../src/pbx/ami.js';
import { startFakeAmi, type FakeAmi } from '../src/cdr/generator/ami-server.js';

let ami: FakeAmi;
let config: AmiConfig;

before(async () => {
  ami = await startFakeAmi({ user: 'smc', secret: 's3cret' });
  config = { host: '127.0.0.1', port: ami.port, user: 'smc', secret: 's3cret' };
});

after(() => ami.close());

describe('click-to-call-back', () => {
  test('logs in, rings the extension through Local/…@from-internal to call the number, and logs off', async () => {
    ami.actions.length = 0;
    const result = await originateCallback({ ami: config, ext: '101', number: '+40 722-000-120' });
    assert.equal(result.message, 'Originate successfully queued');
    assert.deepEqual(ami.actions.map((a) => a.Action), ['Login', 'Originate', 'Logoff']);
    const { ActionID, ...originate } = ami.actions[1]!;
    assert.equal(ActionID, result.actionId);
    assert.deepEqual(originate, {
      Action: 'Originate',
      Channel: 'Local/101@from-internal',
      Context: 'from-internal',
      Exten: '+40722000120',
      Priority: '1',
      CallerID: '"+40722000120" <101>',
      Async: 'true',
    });
    assert.equal(ami.actions[0]!.Events, 'off');
  });

  test('can ring the PJSIP endpoint directly', async () => {
    ami.actions.length = 0;
    await originateCallback({ ami: config, ext: '102', number: '0722000120', channel: 'pjsip' });
    assert.equal(ami.actions[1]!.Channel, 'PJSIP/102');
  });

  test('says why when the PBX refuses the call', async () => {
    ami.failOriginateWith = 'Originate failed';
    await assert.rejects(originateCallback({ ami: config, ext: '101', number: '0722000120' }), {
      name: 'Error',
      message: 'AMI refused the Originate: Originate failed',
    });
  });

  test('a wrong secret is a login error, and no Originate is sent', async () => {
    ami.actions.length = 0;
    await assert.rejects(
      originateCallback({ ami: { ...config, secret: 'wrong' }, ext: '101', number: '0722000120' }),
      /AMI login refused for user 'smc': Authentication failed/,
    );
    assert.deepEqual(ami.actions.map((a) => a.Action), ['Login']);
  });

  test('refuses input that could inject AMI lines, before connecting', async () => {
    ami.actions.length = 0;
    for (const [ext, number] of [['101\r\nAction: Command', '0722'], ['101', '0722\r\nApplication: System'], ['101', 'abc']]) {
      await assert.rejects(originateCallback({ ami: config, ext: ext!, number: number! }), AmiError);
    }
    assert.equal(ami.actions.length, 0);
  });

  test('refuses when AMI is not configured', async () => {
    await assert.rejects(originateCallback({ ami: { ...config, host: '' }, ext: '101', number: '0722' }), /not configured/);
  });
});

describe('reaching AMI', () => {
  test('probe logs in and out and returns the banner', async () => {
    assert.equal(await probeAmi(config), 'Asterisk Call Manager/7.0.3');
  });

  test('a closed port is a clear connection error', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s: Server = createServer();
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    await assert.rejects(probeAmi({ ...config, port: closed }), /AMI at 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  });

  test('a server that is not AMI is named as such', async () => {
    const other = await startFakeAmi({ user: 'smc', secret: 's3cret', banner: 'SSH-2.0-OpenSSH_9.2' });
    try {
      await assert.rejects(probeAmi({ ...config, port: other.port }), /is not an Asterisk Manager Interface/);
    } finally {
      await other.close();
    }
  });

  test('a server that never answers times out with what was awaited', async () => {
    const held = new Set<Socket>();
    const silent = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (silent.address() as { port: number }).port;
      await assert.rejects(probeAmi({ ...config, port }, 200), /did not send the AMI banner within 200 ms/);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
