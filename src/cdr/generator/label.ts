/** What the generator knows to be true about each call: the answer a detector must give. */

export type ScenarioName =
  | 'queue_answered'
  | 'queue_missed'
  | 'queue_voicemail'
  | 'queue_abandon_no_agent'
  | 'ringgroup_answered'
  | 'ringgroup_missed'
  | 'direct_answered'
  | 'direct_voicemail'
  | 'direct_missed'
  | 'direct_busy'
  | 'voicemail_direct'
  | 'ivr_abandon'
  | 'ivr_queue_answered'
  | 'ivr_queue_missed'
  | 'followme_external'
  | 'followme_missed'
  | 'blind_transfer'
  | 'attended_transfer'
  | 'internal'
  | 'outbound'
  | 'callback';

export type Direction = 'inbound' | 'outbound' | 'internal';

export interface CallLabel {
  linkedid: string;
  scenario: ScenarioName;
  direction: Direction;
  /** Naive 'YYYY-MM-DD HH:MM:SS' of the call's first channel, as calldate shows it. */
  startedAt: string;
  missed: boolean;
  /** Hung up in the IVR before any phone rang: neither answered nor missed. */
  abandoned?: boolean;
  /** Inbound: the number as the carrier presented it; outbound and internal: the extension. */
  caller: string;
  did: string;
  /** Outbound: the digits the extension dialled (dial prefix included). */
  dialled?: string;
  /** The extension that answered, or 'external:<number>' for a follow-me mobile. */
  answeredBy?: string;
  /** Extensions whose phones rang, in the order they were first rung. */
  rang: string[];
  /** Outbound call returning a missed call: the missed caller's number as presented then. */
  callbackFor?: string;
  callbackAnswered?: boolean;
  /** Inbound only: someone had missed this caller before and this call is them trying again. */
  repeatOf?: string;
}
