/**
 * The generated PBX's Asterisk Manager Interface, for tests, the demo and the bench: it
 * speaks the protocol as Asterisk does (manager.c): an "Asterisk Call Manager/<version>"
 * banner line, then "Key: Value" blocks ended by a blank line in both directions,
 * responses echoing the ActionID, an unsolicited FullyBooted event after login to a session
 * that gets system events, "Permission denied" before login, a refused login answered
 * "Authentication failed" and the connection closed, "Goodbye" + hang-up on Logoff. Login's
 * `Events` header chooses the event classes a session gets ("on" or none given: all, "off":
 * none, else a comma list such as "call"). It records every action it receives, and emits
 * the call events (Newchannel, Hangup…) it is given to the sessions that asked for them.
 * Setvar of `DEVICE_STATE(Custom:<name>)` keeps the state, as func_devstate.c does (any
 * other name but Custom: and any state it does not know are "Variable not set").
 */
import { createServer, type Server, type Socket } from 'node:net';
import { AmiParser, formatMessage } from '../../pbx/ami-protocol.js';

export interface FakeAmi {
  port: number;
  /** Every action received, in order, as its fields. */
  actions: Record<string, string>[];
  /** Connections accepted since start. */
  connections: number;
  /** Connections open now. */
  readonly openConnections: number;
  /** Custom device states set through Setvar of DEVICE_STATE(Custom:…), by device ("Custom:SMC"). */
  deviceStates: Map<string, string>;
  /** Set to make the next Originate fail with this message (as Asterisk does for a bad channel). */
  failOriginateWith: string | null;
  /** Sends an event of the call class (Privilege: call,all) to every session that gets call events. */
  emitCall(event: string, fields: Record<string, string>): void;
  /** Sessions logged in that get call events. */
  readonly callListeners: number;
  /** Resolves once a session that gets call events is logged in. */
  callListener(): Promise<void>;
  /** Closes every connection, as a restarting Asterisk does; the server keeps listening. */
  dropConnections(): void;
  close(): Promise<void>;
}

interface Session {
  socket: Socket;
  loggedIn: boolean;
  classes: Set<string> | 'all';
}

export interface FakeAmiOptions {
  user: string;
  secret: string;
  banner?: string;
  port?: number;
  /** Sends everything in pieces of this many bytes, a millisecond apart, so a client reads messages cut anywhere (as TCP may deliver them). */
  writeChunkBytes?: number;
}

export async function startFakeAmi(options: FakeAmiOptions): Promise<FakeAmi> {
  const sessions = new Set<Session>();
  /** Per socket, the pieces still to send, in order. */
  const outgoing = new WeakMap<Socket, Promise<void>>();
  const write = (socket: Socket, text: string) => {
    const size = options.writeChunkBytes;
    if (!size) return void socket.write(text);
    let chain = outgoing.get(socket) ?? Promise.resolve();
    for (let i = 0; i < text.length; i += size) {
      const piece = text.slice(i, i + size);
      chain = chain.then(() => new Promise((resolve) => setTimeout(() => {
        if (!socket.destroyed) socket.write(piece);
        resolve();
      }, 1)));
    }
    outgoing.set(socket, chain);
  };
  let waiters: (() => void)[] = [];
  const getsCall = (s: Session) => s.loggedIn && (s.classes === 'all' || s.classes.has('call'));
  const fake: FakeAmi = {
    port: 0,
    actions: [],
    connections: 0,
    deviceStates: new Map(),
    failOriginateWith: null,
    emitCall(event, fields) {
      const text = formatMessage({ Event: event, Privilege: 'call,all', ...fields });
      for (const s of sessions) if (getsCall(s)) write(s.socket, text);
    },
    get openConnections() {
      return sessions.size;
    },
    get callListeners() {
      return [...sessions].filter(getsCall).length;
    },
    callListener() {
      if (fake.callListeners > 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    dropConnections() {
      for (const s of sessions) s.socket.destroy();
    },
    close: () => new Promise<void>((resolve) => {
      fake.dropConnections();
      server.close(() => resolve());
    }),
  };

  const server: Server = createServer((socket) => {
    fake.connections += 1;
    const session: Session = { socket, loggedIn: false, classes: 'all' };
    sessions.add(session);
    socket.on('close', () => sessions.delete(session));
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    write(socket, `${options.banner ?? 'Asterisk Call Manager/7.0.3'}\r\n`);
    // Clients speak first only after the banner: their first line is a message, not a banner.
    const parser = new AmiParser();
    parser.banner = '(client)';
    const send = (fields: Record<string, string>) => write(socket, formatMessage(fields));

    socket.on('data', (chunk: string) => {
      for (const action of parser.push(chunk)) {
        fake.actions.push(action);
        const id: Record<string, string> = action.ActionID !== undefined ? { ActionID: action.ActionID } : {};
        const name = (action.Action ?? '').toLowerCase();
        if (name === 'login') {
          if (action.Username === options.user && action.Secret === options.secret) {
            session.loggedIn = true;
            session.classes = eventClasses(action.Events);
            send({ Response: 'Success', ...id, Message: 'Authentication accepted' });
            if (session.classes === 'all' || session.classes.has('system')) {
              send({ Event: 'FullyBooted', Privilege: 'system,all', Uptime: '42', LastReload: '42', Status: 'Fully Booted' });
            }
            if (getsCall(session)) {
              for (const wake of waiters) wake();
              waiters = [];
            }
          } else {
            // action_login returns -1 on a failed authentication, which ends the session.
            send({ Response: 'Error', ...id, Message: 'Authentication failed' });
            void (outgoing.get(socket) ?? Promise.resolve()).then(() => socket.end());
          }
        } else if (!session.loggedIn) {
          send({ Response: 'Error', ...id, Message: 'Permission denied' });
        } else if (name === 'ping') {
          send({ Response: 'Success', ...id, Ping: 'Pong', Timestamp: (Date.now() / 1000).toFixed(6) });
        } else if (name === 'originate') {
          if (fake.failOriginateWith) {
            send({ Response: 'Error', ...id, Message: fake.failOriginateWith });
            fake.failOriginateWith = null;
          } else {
            send({ Response: 'Success', ...id, Message: 'Originate successfully queued' });
          }
        } else if (name === 'setvar') {
          // manager.c action_setvar: no Channel sets a global variable, or writes a function.
          const variable = action.Variable ?? '';
          const device = /^DEVICE_STATE\((.*)\)$/i.exec(variable)?.[1];
          if (variable === '') {
            send({ Response: 'Error', ...id, Message: 'No variable specified' });
          } else if (device !== undefined && !(/^Custom:./i.test(device) && DEVICE_STATES.includes((action.Value ?? '').toUpperCase()))) {
            send({ Response: 'Error', ...id, Message: 'Variable not set' });
          } else {
            if (device !== undefined) fake.deviceStates.set(device, (action.Value ?? '').toUpperCase());
            send({ Response: 'Success', ...id, Message: 'Variable Set' });
          }
        } else if (name === 'logoff') {
          send({ Response: 'Goodbye', ...id, Message: 'Thanks for all the fish.' });
          void (outgoing.get(socket) ?? Promise.resolve()).then(() => socket.end());
        } else {
          send({ Response: 'Error', ...id, Message: 'Invalid/unknown command' });
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  fake.port = (server.address() as { port: number }).port;
  return fake;
}

/** What ast_devstate_val knows (main/devicestate.c); UNKNOWN is refused by func_devstate's write. */
const DEVICE_STATES = ['NOT_INUSE', 'INUSE', 'BUSY', 'INVALID', 'UNAVAILABLE', 'RINGING', 'RINGINUSE', 'ONHOLD'];

/** Login's Events header as manager.c reads it (set_eventmask / strings_to_mask). */
function eventClasses(header: string | undefined): Set<string> | 'all' {
  const value = (header ?? '').trim().toLowerCase();
  if (value === '' || value === 'on') return 'all';
  if (value === 'off') return new Set();
  return new Set(value.split(',').map((c) => c.trim()));
}
