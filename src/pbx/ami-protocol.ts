/**
 * The Asterisk Manager Interface's wire format, with no socket: after a one-line banner
 * ("Asterisk Call Manager/<version>"), every message in either direction is "Key: Value"
 * lines ended by a blank line, lines ended by CRLF (manager.c). TCP may cut a message, or
 * the banner, anywhere: the parser keeps what it has not yet seen the end of.
 */

export type AmiMessage = Record<string, string>;

export class AmiError extends Error {}

export class AmiParser {
  private buffer = '';
  /** The banner line, once it has arrived; '' before. */
  banner = '';

  /** Takes the next chunk off the socket; returns the messages it completed, in order. */
  push(chunk: string): AmiMessage[] {
    this.buffer += chunk;
    if (this.banner === '') {
      const end = this.buffer.indexOf('\r\n');
      if (end < 0) return [];
      this.banner = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
    }
    const messages: AmiMessage[] = [];
    for (let end = this.buffer.indexOf('\r\n\r\n'); end >= 0; end = this.buffer.indexOf('\r\n\r\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 4);
      const message: AmiMessage = {};
      for (const line of block.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) message[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
      }
      if (Object.keys(message).length > 0) messages.push(message);
    }
    return messages;
  }
}

/** A message as sent on the wire; a value with a line break would smuggle in a header of its own. */
export function formatMessage(fields: AmiMessage): string {
  for (const [key, value] of Object.entries(fields)) {
    if (/[\r\n]/.test(key) || /[\r\n]/.test(value)) throw new AmiError(`AMI field ${key} contains a line break`);
  }
  return Object.entries(fields).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
}

/** What every AMI server's banner starts with. */
export const AMI_BANNER_PREFIX = 'Asterisk Call Manager/';
