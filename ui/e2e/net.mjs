// A free TCP port on loopback, and a ferroflow server on one, for the tests and benches
// that drive a real server (e2e/run.mjs, e2e/auth.mjs, bench/ui).
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const freePort = () =>
  new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

// Starts `bin server` on a free port over a fresh store in `data`, its log in `log`;
// resolves once /health answers, to { base, server } (the child process).
export async function startFerroflow({ bin, data, log, args = [], env = process.env }) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(
    bin,
    [
      'server',
      ...args,
      '--port',
      String(port),
      '--backend-store-uri',
      `sqlite:///${join(data, 'ff.db')}`,
      '--artifacts-destination',
      join(data, 'artifacts'),
    ],
    { env, stdio: ['ignore', 'ignore', openSync(log, 'w')] },
  );
  for (let i = 0; i < 200; i++) {
    if (server.exitCode !== null) throw new Error(`ferroflow exited with ${server.exitCode}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return { base, server };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  server.kill();
  throw new Error('ferroflow did not start');
}
