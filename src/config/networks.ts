import { isIPv4, isIPv6 } from 'node:net';

/**
 * Which addresses the service may send webhooks and caller-name lookups to. A tenant admin
 * types those URLs; without this check the service would post to, and show the answers of,
 * the PBX's own loopback services, the LAN and cloud metadata endpoints (SSRF). Pure: the
 * DNS resolution and the connection live in src/notify/outbound.ts; config.yaml's allow-list and
 * server.trust_proxy are parsed here too.
 */

export type AddressKind = 'public' | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

export interface Network {
  family: 4 | 6;
  base: bigint;
  prefix: number;
  /** As written, for messages: "127.0.0.0/8". */
  text: string;
}

export interface ClassifiedAddress {
  family: 4 | 6;
  value: bigint;
  kind: AddressKind;
  /** The internal range the address falls in ("127.0.0.0/8"); '' for a public address. */
  range: string;
  /** The IPv4 address an IPv6 form carries (::ffff:127.0.0.1, NAT64, 6to4): what was classified. */
  embeddedV4?: bigint;
}

const V4_RANGES: [string, AddressKind][] = [
  ['0.0.0.0/8', 'unspecified'], // "this network": 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'private'], // carrier-grade NAT; some clouds put metadata services there
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'], // cloud metadata endpoints live here
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // and 255.255.255.255
];

const V6_RANGES: [string, AddressKind][] = [
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'private'], // deprecated site-local
  ['fc00::/7', 'private'], // unique local
  ['ff00::/8', 'multicast'],
];

/** IPv6 forms that carry an IPv4 address in their low (or, for 6to4, middle) 32 bits. */
const V4_CARRIERS: { network: string; shift: bigint }[] = [
  { network: '::ffff:0:0/96', shift: 0n }, // IPv4-mapped
  { network: '::ffff:0:0:0/96', shift: 0n }, // SIIT IPv4-translated
  { network: '64:ff9b::/96', shift: 0n }, // NAT64 well-known prefix
  { network: '::/96', shift: 0n }, // deprecated IPv4-compatible (after :: and ::1 are taken)
  { network: '2002::/16', shift: 80n }, // 6to4
];

/**
 * An IPv4 address in any form inet_aton and the WHATWG URL parser accept: 1 to 4 parts,
 * each decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes.
 * So `127.1`, `2130706433` and `0x7f.1` are all 127.0.0.1. Null when the text is no such form.
 */
export function parseIPv4(text: string): bigint | null {
  const parts = text.replace(/\.$/, '').split('.');
  if (parts.length > 4 || parts.some((p) => p === '')) return null;
  const numbers: bigint[] = [];
  for (const p of parts) {
    if (/^0x[0-9a-f]*$/i.test(p)) numbers.push(p.length === 2 ? 0n : BigInt(p));
    else if (/^0[0-7]*$/.test(p)) numbers.push(BigInt('0o' + p));
    else if (/^[1-9]\d*$/.test(p)) numbers.push(BigInt(p));
    else return null;
  }
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255n)) return null;
  const lastBits = BigInt(8 * (4 - numbers.length));
  if (last >= 1n << lastBits) return null;
  return numbers.reduce((acc, n, i) => acc | (n << BigInt(8 * (3 - i))), 0n) | last;
}

/** An IPv6 address, with or without brackets and zone (`[fe80::1%eth0]`), as 128 bits. */
export function parseIPv6(text: string): bigint | null {
  const bare = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (!isIPv6(bare)) return null;
  let groups = bare;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (dotted) {
    const v4 = parseIPv4(dotted[1]!)!;
    groups = bare.slice(0, -dotted[1]!.length) + `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = groups.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const all = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** "10.0.0.0/8", "fd00::/8", or one address ("127.0.0.1" = /32). Null when it is not one. */
export function parseNetwork(text: string): Network | null {
  const [address, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined || !address) return null;
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : null;
  if (family === null) return null;
  const width = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? width : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > width) return null;
  const value = family === 4 ? parseIPv4(address)! : parseIPv6(address)!;
  return { family, base: value & mask(width, prefix), prefix, text: text.trim() };
}

/** The allow-list of config.yaml, already validated when the config was loaded. */
export function parseNetworks(texts: readonly string[]): Network[] {
  return texts.map((t) => parseNetwork(t)).filter((n): n is Network => n !== null);
}

function mask(width: number, prefix: number): bigint {
  return ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - prefix)) - 1n);
}

function contains(network: Network, family: 4 | 6, value: bigint): boolean {
  return network.family === family && (value & mask(family === 4 ? 32 : 128, network.prefix)) === network.base;
}

const networks = (ranges: [string, AddressKind][]) => ranges.map(([text, kind]) => ({ network: parseNetwork(text)!, kind }));
const V4_TABLE = networks(V4_RANGES);
const V6_TABLE = networks(V6_RANGES);
const CARRIERS = V4_CARRIERS.map((c) => ({ network: parseNetwork(c.network)!, shift: c.shift }));

function classifyV4(value: bigint): { kind: AddressKind; range: string } {
  const hit = V4_TABLE.find((r) => contains(r.network, 4, value));
  return hit ? { kind: hit.kind, range: hit.network.text } : { kind: 'public', range: '' };
}

/**
 * The kind of an IP address written in any form a URL or the resolver accepts (see
 * parseIPv4; IPv6 with or without brackets); null when the text is a host name.
 */
export function classifyAddress(host: string): ClassifiedAddress | null {
  const v4 = /^[\d.]|^0x/i.test(host) ? parseIPv4(host) : null;
  if (v4 !== null) return { family: 4, value: v4, ...classifyV4(v4) };
  const v6 = parseIPv6(host);
  if (v6 === null) return null;
  if (v6 === 0n) return { family: 6, value: v6, kind: 'unspecified', range: '::/128' };
  if (v6 === 1n) return { family: 6, value: v6, kind: 'loopback', range: '::1/128' };
  const carrier = CARRIERS.find((c) => contains(c.network, 6, v6));
  if (carrier) {
    const embeddedV4 = (v6 >> carrier.shift) & 0xffffffffn;
    return { family: 6, value: v6, embeddedV4, ...classifyV4(embeddedV4) };
  }
  const hit = V6_TABLE.find((r) => contains(r.network, 6, v6));
  return hit ? { family: 6, value: v6, kind: hit.kind, range: hit.network.text } : { family: 6, value: v6, kind: 'public', range: '' };
}

/**
 * Whether the service may connect to this address: every public address, and internal ones
 * only inside a network the PBX administrator listed (notify.allow_private_networks in
 * config.yaml). An IPv6 form of an IPv4 address is allowed when either form is listed.
 */
export function isAllowedTarget(address: ClassifiedAddress, allowed: readonly Network[]): boolean {
  if (address.kind === 'public') return true;
  return allowed.some(
    (n) => contains(n, address.family, address.value) || (address.embeddedV4 !== undefined && contains(n, 4, address.embeddedV4)),
  );
}

/**
 * The internal address a URL names literally (an IP in any form, or localhost), when it is
 * not allowed: the settings page refuses such a URL at once. Host names are only checked
 * when a request resolves them (outbound.ts), since their addresses may change.
 */
export function literalInternalTarget(urlText: string, allowed: readonly Network[]): { host: string; range: string } | null {
  let host: string;
  try {
    host = new URL(urlText).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return null;
  }
  const address = host === 'localhost' || host.endsWith('.localhost') ? classifyAddress('127.0.0.1') : classifyAddress(host);
  return address && !isAllowedTarget(address, allowed) ? { host, range: address.range } : null;
}
