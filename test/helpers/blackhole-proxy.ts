import { createServer, connect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';

export interface Proxy {
  port: number;
  /**
   * Black hole: traffic on open connections stops flowing both ways (sockets stay open, as with
   * a dead peer or a cut network), and new connections are accepted but never forwarded.
   */
  setBlackhole(on: boolean): void;
  close(): Promise<void>;
}

/**
 * A TCP (or TLS-terminating) proxy to a broker, for what the broker itself must not be made to
 * do on a shared machine: present a TLS certificate, or go silent without closing sockets.
 */
export async function startProxy(target: { host: string; port: number }, tls?: TlsOptions): Promise<Proxy> {
  let blackhole = false;
  const pairs = new Set<[Socket, Socket]>();
  const onClient = (client: Socket) => {
    client.on('error', () => client.destroy());
    if (blackhole) {
      pairs.add([client, client]);
      return;
    }
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => {
      if (!blackhole) client.destroy();
    });
    client.on('close', () => upstream.destroy());
    // A dead peer does not say goodbye: while black-holed, the broker giving up on us stays unseen.
    upstream.on('close', () => {
      if (!blackhole) client.destroy();
    });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (d) => {
      if (!blackhole) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!blackhole) client.write(d);
    });
  };
  const server: Server = tls ? createTlsServer(tls, onClient) : createServer(onClient);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    setBlackhole(on) {
      blackhole = on;
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
