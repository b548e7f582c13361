import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { voicemailLeft } from '../src/cdr/voicemail-spool.js';

// What Asterisk's app_voicemail writes next to each recording (msg0000.txt).
const messageInfo = (callerchan: string, origtime: number, duration: number) => `;
; Message Information file
;
[message]
origmailbox=102
context=macro-vm
macrocontext=ext-local
exten=s-NOANSWER
rdnis=102
priority=2
callerchan=${callerchan}
callerid="0722000106" <0722000106>
origdate=Thu Nov 26 06:14:36 AM UTC 2026
origtime=${origtime}
category=
msg_id=${origtime}-00000000
flag=
duration=${duration}
`;

test('a message left by this call is found in the spool; another call or an empty mailbox is not', () => {
  const spool = mkdtempSync(join(tmpdir(), 'smc-vm-'));
  mkdirSync(join(spool, 'default', '102', 'INBOX'), { recursive: true });
  mkdirSync(join(spool, 'default', '104', 'Old'), { recursive: true });
  writeFileSync(join(spool, 'default', '102', 'INBOX', 'msg0000.txt'), messageInfo('PJSIP/trunk-00000015', 1795673676, 6));
  writeFileSync(join(spool, 'default', '104', 'Old', 'msg0003.txt'), messageInfo('PJSIP/trunk-00000013', 1795673683, 6));
  const call = (box: string, channel: string) => ({ box, context: 'default', channel, messageLeft: null });
  const at = 1795673661; // the call's naive time (PBX local = UTC here)
  assert.equal(voicemailLeft(spool, call('102', 'PJSIP/trunk-00000015'), at), true);
  assert.equal(voicemailLeft(spool, call('104', 'PJSIP/trunk-00000013'), at), true, 'listened messages (Old) count too');
  assert.equal(voicemailLeft(spool, call('102', 'PJSIP/trunk-00000099'), at), false, 'another call');
  assert.equal(voicemailLeft(spool, call('102', 'PJSIP/trunk-00000015'), at + 10 * 86_400), false, 'same channel name, days later (Asterisk restarted)');
  assert.equal(voicemailLeft(spool, call('105', 'PJSIP/trunk-00000015'), at), null, 'mailbox not readable: unknown');
  assert.equal(voicemailLeft(spool, { ...call('../../etc', 'x'), context: '..' }, at), null, 'names from CDR stay inside the spool');
});
