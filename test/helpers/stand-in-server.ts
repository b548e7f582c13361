import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * The HTTP side every CRM stand-in shares (test/helpers/{hubspot,odoo,salesforce}.ts): a
 * server on a free loopback port whose requests the vendor's subclass answers.
 */
export abstract class StandInServer {
  url = '';
  private server: Server | null = null;

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
