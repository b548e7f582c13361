/**
 * Reading Asterisk channel names. A channel is `TECH/<resource>-<suffix>` for devices
 * (PJSIP/101-0000002a, SIP/trunk-00000001, IAX2/101-123) and
 * `Local/<exten>@<context>-<id>;<1|2>` for Local channels (queue members, ring group and
 * follow-me legs); the two halves of one Local channel share everything but `;1`/`;2`.
 */
export type PartyKind = 'extension' | 'trunk' | 'local' | 'none';

export interface Party {
  raw: string;
  kind: PartyKind;
  tech: string;
  /** Endpoint (device) name, or the Local channel's exten. */
  name: string;
  /** Local channels only: dialplan context and the id shared by both halves. */
  context: string;
  localId: string;
  side: 0 | 1 | 2;
}

/** Decides whether a device endpoint name is one of this PBX's internal extensions. */
export type ExtensionTest = (endpoint: string) => boolean;

const NONE: Party = { raw: '', kind: 'none', tech: '', name: '', context: '', localId: '', side: 0 };

export function parseChannel(raw: string, isExtension: ExtensionTest): Party {
  const text = (raw ?? '').trim();
  const slash = text.indexOf('/');
  if (!text || slash <= 0) return text ? { ...NONE, raw: text, kind: 'trunk', name: text } : NONE;
  const tech = text.slice(0, slash);
  const resource = text.slice(slash + 1);
  if (tech.toLowerCase() === 'local') {
    const semi = resource.lastIndexOf(';');
    const side = semi >= 0 && (resource[semi + 1] === '1' || resource[semi + 1] === '2') ? (Number(resource[semi + 1]) as 1 | 2) : 0;
    const body = semi >= 0 ? resource.slice(0, semi) : resource;
    const at = body.indexOf('@');
    const exten = at >= 0 ? body.slice(0, at) : body;
    const context = at >= 0 ? body.slice(at + 1).replace(/-[0-9a-f]+$/i, '') : '';
    return { raw: text, kind: 'local', tech, name: localTarget(exten, context), context, localId: `${tech}/${body}`, side };
  }
  // Device channels end in -<hex counter>; a dialled resource (PJSIP/0740@trunk) does not.
  const name = resource.replace(/-[0-9a-f]+$/i, '').replace(/[;,].*$/, '');
  return { raw: text, kind: isExtension(name) ? 'extension' : 'trunk', tech, name, context: '', localId: '', side: 0 };
}

/**
 * FreePBX dials some parties through Local channels named after them, not as them. Follow-me:
 * `FMPR-105` is the primary extension, `FMGL-0740999888#` a list entry (`#` marks an outside
 * number). Paging: `PAGE101@app-paging` is the page reaching extension 101's phone, which
 * auto-answers. What rang (or answered) is the member itself.
 */
function localTarget(exten: string, context: string): string {
  const followMe = /^FM(?:PR|GL)-([^#]+)#?$/.exec(exten);
  if (followMe) return followMe[1]!;
  const paged = context === 'app-paging' ? /^PAGE(\d+)$/.exec(exten) : null;
  return paged ? paged[1]! : exten;
}

/**
 * Extension numbers from ranges like "100-199,2000". With no ranges configured (a fresh
 * install, `smc explain` on a file) an extension is a 2–6 digit endpoint name, which is
 * how FreePBX names its devices; trunks carry names.
 */
export function extensionTest(ranges: string, known: Iterable<string> = []): ExtensionTest {
  const exact = new Set(known);
  const spans: [number, number][] = [];
  for (const part of ranges.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [from, to] = part.split('-').map((n) => Number(n.trim()));
    spans.push([from!, to ?? from!]);
  }
  const heuristic = exact.size === 0 && spans.length === 0;
  return (endpoint: string) => {
    const name = endpoint.replace(/^T\d+_/, '');
    if (exact.has(name) || exact.has(endpoint)) return true;
    if (!/^\d+$/.test(name)) return false;
    if (heuristic) return name.length >= 2 && name.length <= 6;
    const n = Number(name);
    return spans.some(([from, to]) => n >= from && n <= to);
  };
}

/**
 * A number a person can be reached on: digits, with a leading + or the * and # of feature
 * codes — never a dialplan name like `s` or `PAGE101`, which Local channels of FreePBX's own
 * applications (paging, intercom, conferences) carry as their exten.
 */
export function isPhoneNumber(text: string): boolean {
  return /^\+?[\d*#]*\d[\d*#]*$/.test(text);
}

/** The number a Dial() sent to a trunk: PJSIP/0722000120@trunk, SIP/trunk/0722…, DAHDI/g0/0722… */
export function dialledNumberFromLastdata(lastdata: string): string {
  const first = (lastdata ?? '').split(/[,&]/)[0] ?? '';
  const at = /^[A-Za-z0-9]+\/([+\d*#]+)@/.exec(first);
  if (at) return at[1]!;
  const path = /^[A-Za-z0-9]+\/[^/]+\/([+\d*#]+)$/.exec(first);
  return path ? path[1]! : '';
}

/** The device a Dial() aimed at, for rows where no channel was created: PJSIP/108/sip:… → 108. */
export function dialTargetFromLastdata(lastdata: string): string {
  const first = (lastdata ?? '').split(/[,&]/)[0] ?? '';
  const m = /^[A-Za-z0-9]+\/([^/@,]+)/.exec(first);
  return m ? m[1]! : '';
}
