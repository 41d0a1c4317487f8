// A free TCP port on loopback, for a server under test (e2e/run.mjs, bench/ui).
import { createServer } from 'node:net';

export const freePort = () =>
  new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
