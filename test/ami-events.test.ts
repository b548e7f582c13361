import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startFakeAmi, type FakeAmi } from '../src/cdr/generator/ami-server.js';
import { AmiParser, formatMessage, type AmiMessage } from '../src/pbx/ami-protocol.js';
import { AmiEventListener } from '../src/pbx/ami-events.js';
import { LiveCalls } from '../src/pbx/live-calls.js';

/** A channel event as manager_channels.c writes it: the snapshot's fields, Uniqueid and Linkedid among them. */
function channel(event: string, name: string, uniqueid: string, linkedid: string, extra: AmiMessage = {}): AmiMessage {
  return {
    Event: event, Privilege: 'call,all', Channel: name, ChannelState: '6', ChannelStateDesc: 'Up', CallerIDNum: '0722000120',
    CallerIDName: 'Ion', ConnectedLineNum: '<unknown>', ConnectedLineName: '<unknown>', Language: 'en', AccountCode: '',
    Context: 'from-pstn', Exten: '0212000100', Priority: '1', Uniqueid: uniqueid, Linkedid: linkedid, ...extra,
  };
}

const until = async (what: string, ready: () => boolean, budgetMs = 10_000) => {
  const deadline = Date.now() + budgetMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`not within ${budgetMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('AMI wire format', () => {
  test('messages cut at every byte, the banner too, come out whole and in order', () => {
    const messages = [
      { Response: 'Success', ActionID: 'a1', Message: 'Authentication accepted' },
      channel('Newchannel', 'PJSIP/trunk-00000001', '1700000000.1', '1700000000.1'),
      channel('Hangup', 'PJSIP/trunk-00000001', '1700000000.1', '1700000000.1', { Cause: '16', 'Cause-txt': 'Normal Clearing' }),
    ];
    const wire = 'Asterisk Call Manager/7.0.3\r\n' + messages.map(formatMessage).join('');
    for (let cut = 1; cut < wire.length; cut++) {
      const parser = new AmiParser();
      const got = [...parser.push(wire.slice(0, cut)), ...parser.push(wire.slice(cut))];
      assert.equal(parser.banner, 'Asterisk Call Manager/7.0.3', `cut at ${cut}`);
      assert.deepEqual(got, messages, `cut at ${cut}`);
    }
    const parser = new AmiParser();
    assert.deepEqual([...wire].flatMap((c) => parser.push(c)), messages, 'one byte at a time');
  });
});

describe('following calls from their channels', () => {
  test('a call is over when its last channel hangs up, not at the first', () => {
    const calls = new LiveCalls();
    assert.deepEqual(calls.take(channel('Newchannel', 'PJSIP/trunk-1', 'L', 'L')), []);
    assert.deepEqual(calls.take(channel('Newchannel', 'Local/101@from-queue-1;1', 'L1', 'L')), []);
    assert.deepEqual(calls.take(channel('Newchannel', 'Local/101@from-queue-1;2', 'L2', 'L')), []);
    // DialBegin names the dialled channel under the Dest prefix: it is followed from there.
    assert.deepEqual(calls.take({ ...channel('DialBegin', 'Local/101@from-queue-1;2', 'L2', 'L'), DestChannel: 'PJSIP/101-2', DestUniqueid: 'P', DestLinkedid: 'L' }), []);
    for (const id of ['P', 'L2', 'L1']) assert.deepEqual(calls.take(channel('Hangup', 'x', id, 'L')), [], `${id} leaves the caller's channel up`);
    assert.deepEqual(calls.take(channel('Hangup', 'PJSIP/trunk-1', 'L', 'L')), ['L']);
    assert.equal(calls.size, 0);
  });

  test('a channel a bridge gives an older linkedid counts for that call from then on (an attended transfer)', () => {
    const calls = new LiveCalls();
    calls.take(channel('Newchannel', 'PJSIP/trunk-1', 'A', 'A'));
    calls.take(channel('Newchannel', 'PJSIP/101-1', 'A2', 'A'));
    // The agent's consultation call to 102 is a call of its own…
    calls.take(channel('Newchannel', 'PJSIP/101-2', 'B', 'B'));
    calls.take(channel('Newchannel', 'PJSIP/102-3', 'B2', 'B'));
    // …until the transfer bridges 102 with the caller: 102's channel now carries A's linkedid.
    // B has no channel left then (B's own channel hangs up first), as CEL's LINKEDID_END says.
    assert.deepEqual(calls.take(channel('Hangup', 'PJSIP/101-2', 'B', 'B')), []);
    assert.deepEqual(calls.take(channel('BridgeEnter', 'PJSIP/102-3', 'B2', 'A')), ['B']);
    assert.deepEqual(calls.take(channel('Hangup', 'PJSIP/101-1', 'A2', 'A')), []);
    assert.deepEqual(calls.take(channel('Hangup', 'PJSIP/trunk-1', 'A', 'A')), [], "102 still talks to the caller's call");
    assert.deepEqual(calls.take(channel('Hangup', 'PJSIP/102-3', 'B2', 'A')), ['A']);
  });

  test('a call already up when we connected is never said to be over, and a late event does not revive a channel', () => {
    const calls = new LiveCalls();
    // Its root's Newchannel came before we connected: we cannot know all its channels.
    calls.take(channel('Newchannel', 'PJSIP/101-9', 'X2', 'X'));
    assert.deepEqual(calls.take(channel('Hangup', 'PJSIP/trunk-9', 'X', 'X')), []);
    assert.deepEqual(calls.take(channel('Hangup', 'PJSIP/101-9', 'X2', 'X')), []);

    calls.take(channel('Newchannel', 'PJSIP/trunk-1', 'L', 'L'));
    calls.take(channel('Newchannel', 'PJSIP/101-1', 'L2', 'L'));
    calls.take(channel('Hangup', 'PJSIP/101-1', 'L2', 'L'));
    calls.take(channel('Newstate', 'PJSIP/101-1', 'L2', 'L'));
    assert.deepEqual(calls.take(channel('Hangup', 'PJSIP/trunk-1', 'L', 'L')), ['L']);
  });
});

describe('the lasting AMI connection', () => {
  const user = 'smc';
  const secret = 's3cret';

  async function listening(ami: FakeAmi, options: { secret?: string } = {}) {
    const over: string[] = [];
    const lines: string[] = [];
    const listener = new AmiEventListener({
      ami: { host: '127.0.0.1', port: ami.port, user, secret: options.secret ?? secret },
      onCallOver: (id) => over.push(id), log: (line) => lines.push(line), minRetryMs: 50, maxRetryMs: 200,
    });
    listener.start();
    return { listener, over, lines };
  }

  function playCall(ami: FakeAmi, linkedid: string) {
    ami.emitCall('Newchannel', channel('Newchannel', 'PJSIP/trunk-1', linkedid, linkedid));
    ami.emitCall('Newchannel', channel('Newchannel', 'PJSIP/101-1', `${linkedid}.2`, linkedid));
    ami.emitCall('Hangup', channel('Hangup', 'PJSIP/101-1', `${linkedid}.2`, linkedid));
    ami.emitCall('Hangup', channel('Hangup', 'PJSIP/trunk-1', linkedid, linkedid));
  }

  test('logs in for call events only and says when a call is over, its events arriving a few bytes at a time', async () => {
    const ami = await startFakeAmi({ user, secret, writeChunkBytes: 7 });
    const { listener, over, lines } = await listening(ami);
    try {
      await ami.callListener();
      const login = ami.actions.find((a) => a.Action === 'Login')!;
      assert.equal(login.Events, 'call');
      playCall(ami, '1700000000.1');
      await until('the call is over', () => over.length > 0);
      assert.deepEqual(over, ['1700000000.1']);
      assert.ok(lines.some((l) => /AMI call events: logged in/.test(l)), lines.join('\n'));
    } finally {
      await listener.stop();
      await ami.close();
    }
  });

  test('when the PBX drops the connection it says so, reconnects by itself, and follows calls again', async () => {
    const ami = await startFakeAmi({ user, secret });
    const { listener, over, lines } = await listening(ami);
    try {
      await ami.callListener();
      ami.dropConnections();
      await until('the loss is logged', () => lines.some((l) => /found by polling until it is back/.test(l)));
      await until('logged in again', () => ami.actions.filter((a) => a.Action === 'Login').length >= 2 && listener.up);
      playCall(ami, '1700000000.7');
      await until('the call is over', () => over.length > 0);
      assert.deepEqual(over, ['1700000000.7']);
    } finally {
      await listener.stop();
      await ami.close();
    }
  });

  test('a refused login is logged once, plainly; the sync keeps polling and the listener keeps trying', async () => {
    const ami = await startFakeAmi({ user, secret });
    const { listener, lines } = await listening(ami, { secret: 'wrong' });
    try {
      await until('a few attempts', () => ami.actions.filter((a) => a.Action === 'Login').length >= 3);
      const refused = lines.filter((l) => l.includes("AMI login refused for user 'smc': Authentication failed"));
      assert.equal(refused.length, 1, lines.join('\n'));
      assert.match(refused[0]!, /check ami\.user and ami\.secret.*found by polling/);
      assert.equal(listener.up, false);
    } finally {
      await listener.stop();
      await ami.close();
    }
  });
});
