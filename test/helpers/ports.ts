import { connect } from 'node:net';

/** Resolves once something accepts connections on 127.0.0.1:`port`; fails naming `what` after ~10 s. */
export async function waitForPort(port: number, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}`);
}
