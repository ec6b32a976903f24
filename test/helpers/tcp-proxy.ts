import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a broker that can stall like a network partition: while paused,
 * bytes in both directions are held (not dropped) and delivered on resume, as TCP would.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ held: Array<() => void>; sockets: Socket[] }>();
  private paused = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      const pair = { held: [] as Array<() => void>, sockets: [client, upstream] };
      this.pairs.add(pair);
      const forward = (from: Socket, to: Socket) =>
        from.on('data', (d: Buffer) => {
          if (this.paused) pair.held.push(() => to.write(d));
          else to.write(d);
        });
      forward(client, upstream);
      forward(upstream, client);
      const close = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const s of pair.sockets) {
        s.on('close', close);
        s.on('error', close);
      }
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const p of this.pairs) for (const send of p.held.splice(0)) send();
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) for (const s of p.sockets) s.destroy();
    this.pairs.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
