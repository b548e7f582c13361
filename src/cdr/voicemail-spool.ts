import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Verdict } from '../detect/verdict.js';

/**
 * Whether the caller actually left a message. CDR cannot tell (VoiceMail() is ANSWERED
 * either way); Asterisk's spool can: every message has a msgNNNN.txt whose `callerchan` is
 * the caller's channel and `origtime` the epoch it was recorded. Channel names are reused
 * after an Asterisk restart, so the time must agree too (within a day: CDR times are the
 * PBX's local clock, origtime is UTC).
 *
 * true: a matching message exists; false: the mailbox is readable and has none; null: we
 * cannot know (no spool access, or the call is too old — listened messages get deleted).
 */
export function voicemailLeft(spool: string, vm: NonNullable<Verdict['voicemail']>, approxEpoch: number): boolean | null {
  const mailbox = join(spool, safe(vm.context), safe(vm.box));
  let folders: string[];
  try {
    folders = readdirSync(mailbox).filter((f) => statSync(join(mailbox, f)).isDirectory());
  } catch {
    return null;
  }
  for (const folder of folders) {
    let files: string[];
    try {
      files = readdirSync(join(mailbox, folder)).filter((f) => /^msg\d+\.txt$/.test(f));
    } catch {
      continue;
    }
    for (const file of files) {
      const info = readMessageInfo(join(mailbox, folder, file));
      if (info && info.callerchan === vm.channel && Math.abs(info.origtime - approxEpoch) < 86_400 && info.duration > 0) return true;
    }
  }
  return false;
}

function readMessageInfo(path: string): { callerchan: string; origtime: number; duration: number } | null {
  try {
    const fields = new Map<string, string>();
    for (const line of readFileSync(path, 'latin1').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0 && !line.startsWith(';')) fields.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
    return { callerchan: fields.get('callerchan') ?? '', origtime: Number(fields.get('origtime') ?? 0), duration: Number(fields.get('duration') ?? 0) };
  } catch {
    return null;
  }
}

/** Mailbox and context names come from CDR text: keep them inside the spool. */
function safe(part: string): string {
  return part.replace(/[^\w.-]/g, '_').replace(/^\.+/, '_');
}
