import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An app (createApp's, or any request listener's owner) served on a free loopback port, as the tests reach it. */
export async function listenOnLoopback(app: { listen: (options: { host: string; port: number }, ready: () => void) => Server }): Promise<{ server: Server; port: number; base: string }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen({ host: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return { server, port, base: `http://127.0.0.1:${port}` };
}
