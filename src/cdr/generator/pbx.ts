/**
 * The PBX the generator pretends to be: what a FreePBX admin configured (extensions,
 * queues, ring groups, IVR, inbound routes). Scenarios read it to build rows with the
 * same numbers, members and dial strings a real box of that shape would write.
 */

/** Where a queue or ring group sends a caller nobody answered. */
export type Failover = { kind: 'voicemail'; extension: string } | { kind: 'hangup' };

export type Destination =
  | { kind: 'queue'; queue: string }
  | { kind: 'ringgroup'; group: string }
  | { kind: 'extension'; extension: string }
  | { kind: 'voicemail'; extension: string }
  | { kind: 'ivr'; ivr: string };

export interface Extension {
  number: string;
  name: string;
  /** Without voicemail FreePBX dials with no ring timeout and a busy phone just plays busy. */
  voicemail: boolean;
  /** Where the phone's SIP contact is: it shows in every Dial() string for it. */
  contact: string;
  followMe?: { mobile: string; ringAloneSeconds: number; ringTogetherSeconds: number };
}

export interface Queue {
  number: string;
  name: string;
  strategy: 'ringall' | 'linear';
  members: string[];
  memberTimeoutSeconds: number;
  retrySeconds: number;
  /** null: callers wait until they hang up. */
  maxWaitSeconds: number | null;
  failover: Failover;
}

export interface RingGroup {
  number: string;
  name: string;
  strategy: 'ringall' | 'hunt';
  members: string[];
  ringSeconds: number;
  failover: Failover;
}

export interface Ivr {
  id: string;
  name: string;
  timeoutSeconds: number;
  options: Record<string, Destination>;
}

export interface Did {
  number: string;
  description: string;
  destination: Destination;
  /** Outside business hours the inbound route's time condition sends callers here. */
  afterHours?: Destination;
}

export interface PbxModel {
  extensions: Extension[];
  queues: Queue[];
  ringGroups: RingGroup[];
  ivrs: Ivr[];
  dids: Did[];
  trunk: string;
  /** Caller id the trunk sends for outbound calls (FreePBX has replaced src with it). */
  outboundCid: string;
  /** Digit users may dial before an outside number; the outbound route strips it. */
  outboundPrefix: string;
  businessHours: { open: number; close: number; weekdays: number[] };
}

const NAMES = [
  'Andrei Popescu', 'Maria Ionescu', 'Ioana Dumitrescu', 'Mihai Stan', 'Elena Georgescu',
  'Alexandru Marin', 'Cristina Tudor', 'Radu Dobre', 'Ana Constantin', 'Bogdan Ene',
  'Simona Barbu', 'Vlad Nistor', 'Laura Matei', 'Florin Lazar', 'Diana Preda',
  'Ionut Rusu', 'Gabriela Moldovan', 'Sorin Florea', 'Adina Munteanu', 'Receptie',
];

export function extensionRange(from: number, to: number): string[] {
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(String(n));
  return out;
}

/**
 * A small business as the lab recorded it (the same queues, groups and DIDs as the
 * asterisk-lab fixtures, so generated calls can be compared with the real rows), grown to
 * 20 extensions, a third queue and a reception IVR with several choices.
 */
export function demoPbx(): PbxModel {
  const extensions: Extension[] = extensionRange(101, 120).map((number, i) => ({
    number,
    name: NAMES[i]!,
    voicemail: number !== '108',
    contact: `192.168.10.${Number(number) - 50}:5060`,
  }));
  extensions.find((e) => e.number === '109')!.followMe = { mobile: '0740999888', ringAloneSeconds: 8, ringTogetherSeconds: 15 };
  extensions.find((e) => e.number === '114')!.followMe = { mobile: '0745123456', ringAloneSeconds: 10, ringTogetherSeconds: 20 };
  return {
    extensions,
    queues: [
      { number: '400', name: 'Sales', strategy: 'ringall', members: extensionRange(101, 105), memberTimeoutSeconds: 15, retrySeconds: 5, maxWaitSeconds: null, failover: { kind: 'hangup' } },
      { number: '401', name: 'Support', strategy: 'ringall', members: ['106', '107'], memberTimeoutSeconds: 15, retrySeconds: 5, maxWaitSeconds: 20, failover: { kind: 'voicemail', extension: '102' } },
      { number: '402', name: 'Billing', strategy: 'linear', members: ['110', '111', '112'], memberTimeoutSeconds: 12, retrySeconds: 3, maxWaitSeconds: 90, failover: { kind: 'voicemail', extension: '110' } },
    ],
    ringGroups: [
      { number: '600', name: 'Office', strategy: 'ringall', members: ['101', '102', '103'], ringSeconds: 15, failover: { kind: 'hangup' } },
      { number: '601', name: 'Service desk', strategy: 'hunt', members: ['104', '105', '106'], ringSeconds: 8, failover: { kind: 'voicemail', extension: '104' } },
    ],
    ivrs: [
      {
        id: '1',
        name: 'Reception',
        timeoutSeconds: 10,
        options: {
          '1': { kind: 'queue', queue: '400' },
          '2': { kind: 'queue', queue: '401' },
          '3': { kind: 'queue', queue: '402' },
        },
      },
    ],
    dids: [
      { number: '0215550100', description: 'Sales line', destination: { kind: 'queue', queue: '400' }, afterHours: { kind: 'voicemail', extension: '101' } },
      { number: '0215550101', description: 'Support line', destination: { kind: 'queue', queue: '401' }, afterHours: { kind: 'voicemail', extension: '102' } },
      { number: '0215550102', description: 'Andrei direct', destination: { kind: 'extension', extension: '102' } },
      { number: '0215550103', description: 'Office', destination: { kind: 'ringgroup', group: '600' } },
      { number: '0215550104', description: 'Service desk', destination: { kind: 'ringgroup', group: '601' } },
      { number: '0215550105', description: 'Warehouse', destination: { kind: 'extension', extension: '108' } },
      { number: '0215550106', description: 'Field engineer', destination: { kind: 'extension', extension: '109' } },
      { number: '0215550107', description: 'Billing line', destination: { kind: 'queue', queue: '402' }, afterHours: { kind: 'voicemail', extension: '110' } },
      { number: '0215550199', description: 'Main number', destination: { kind: 'ivr', ivr: '1' }, afterHours: { kind: 'voicemail', extension: '120' } },
    ],
    trunk: 'trunk',
    outboundCid: '0215550100',
    outboundPrefix: '9',
    businessHours: { open: 8, close: 18, weekdays: [1, 2, 3, 4, 5] },
  };
}

export function findExtension(model: PbxModel, number: string): Extension {
  const ext = model.extensions.find((e) => e.number === number);
  if (!ext) throw new Error(`extension ${number} is not in the PBX model`);
  return ext;
}

export function findQueue(model: PbxModel, number: string): Queue {
  const queue = model.queues.find((q) => q.number === number);
  if (!queue) throw new Error(`queue ${number} is not in the PBX model`);
  return queue;
}

export function findRingGroup(model: PbxModel, number: string): RingGroup {
  const group = model.ringGroups.find((g) => g.number === number);
  if (!group) throw new Error(`ring group ${number} is not in the PBX model`);
  return group;
}

/** The DIDs whose inbound route leads to this destination. */
export function didsTo(model: PbxModel, matches: (d: Destination) => boolean): Did[] {
  return model.dids.filter((d) => matches(d.destination));
}
