import { createServer, type Server, type Socket } from 'node:net';

/**
 * An Asterisk Manager Interface server for tests, speaking the protocol as Asterisk does
 * (manager.c): a "Asterisk Call Manager/<version>" banner line, then "Key: Value" blocks
 * ended by a blank line in both directions, responses echoing the ActionID, an
 * unsolicited FullyBooted event after login, "Permission denied" before login, and
 * "Goodbye" + hang-up on Logoff. It records every action it receives.
 */
export interface FakeAmi {
  port: number;
  /** Every action received, in order, as its fields. */
  actions: Record<string, string>[];
  /** Set to make the next Originate fail with this message (as Asterisk does for a bad channel). */
  failOriginateWith: string | null;
  close(): Promise<void>;
}

export async function startFakeAmi(options: { user: string; secret: string; banner?: string }): Promise<FakeAmi> {
  const sockets = new Set<Socket>();
  const fake: FakeAmi = {
    port: 0,
    actions: [],
    failOriginateWith: null,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setEncoding('utf8');
    socket.write(`${options.banner ?? 'Asterisk Call Manager/7.0.3'}\r\n`);
    let loggedIn = false;
    let buffer = '';
    const send = (fields: Record<string, string>) =>
      socket.write(Object.entries(fields).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');

    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\r\n\r\n'); end >= 0; end = buffer.indexOf('\r\n\r\n')) {
        const action: Record<string, string> = {};
        for (const line of buffer.slice(0, end).split('\r\n')) {
          const colon = line.indexOf(':');
          if (colon > 0) action[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
        }
        buffer = buffer.slice(end + 4);
        fake.actions.push(action);
        const id: Record<string, string> = action.ActionID !== undefined ? { ActionID: action.ActionID } : {};
        const name = (action.Action ?? '').toLowerCase();
        if (name === 'login') {
          if (action.Username === options.user && action.Secret === options.secret) {
            loggedIn = true;
            send({ Response: 'Success', ...id, Message: 'Authentication accepted' });
            send({ Event: 'FullyBooted', Privilege: 'system,all', Uptime: '42', LastReload: '42', Status: 'Fully Booted' });
          } else {
            send({ Response: 'Error', ...id, Message: 'Authentication failed' });
          }
        } else if (!loggedIn) {
          send({ Response: 'Error', ...id, Message: 'Permission denied' });
        } else if (name === 'originate') {
          if (fake.failOriginateWith) {
            send({ Response: 'Error', ...id, Message: fake.failOriginateWith });
            fake.failOriginateWith = null;
          } else {
            send({ Response: 'Success', ...id, Message: 'Originate successfully queued' });
          }
        } else if (name === 'logoff') {
          send({ Response: 'Goodbye', ...id, Message: 'Thanks for all the fish.' });
          socket.end();
        } else {
          send({ Response: 'Error', ...id, Message: 'Invalid/unknown command' });
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  fake.port = (server.address() as { port: number }).port;
  return fake;
}
