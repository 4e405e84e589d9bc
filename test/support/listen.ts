import type { Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

export interface Listening {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  /** Drop open connections and stop listening. */
  close(): Promise<void>;
}

/** Listen on a free loopback port: the local hub server or a hand-written upstream, in tests. */
export async function listen(server: Server): Promise<Listening> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A loopback URL nobody listens on: connections to it are refused (an unreachable WeChat base). */
export async function closedPort(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
