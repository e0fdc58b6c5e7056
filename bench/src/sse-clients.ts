/**
 * The live-stream clients of `bench:api`, in their own process as browsers would be: `CLIENTS`
 * Server-Sent Events connections to `/api/v1/stream`; prints `ready` once all are open, then one
 * JSON line with the delivery lag (publish → receipt, both on the epoch clock
 * `performance.timeOrigin + performance.now()`) once every client has `TOTAL` alerts or the
 * timeout passed.
 *
 * Usage: node sse-clients.js PORT TOKEN CLIENTS TOTAL TIMEOUT_MS
 */
import { request, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';

const [port, token, clients, total, timeoutMs] = process.argv.slice(2) as [string, string, string, string, string];
const n = Number(clients);
const want = Number(total);
const epochNow = () => performance.timeOrigin + performance.now();
const lags: number[] = [];
const received = new Array<number>(n).fill(0);

function open(c: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(port), path: '/api/v1/stream', headers: { authorization: `Bearer ${token}` } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let k;
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, k);
          buf = buf.slice(k + 2);
          const m = /\nevent: alert\ndata: (.*)$/.exec(block);
          if (m) {
            lags.push(epochNow() - (JSON.parse(m[1]!) as { sentAt: number }).sentAt);
            received[c]!++;
          }
        }
      });
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
}

const conns = await Promise.all(Array.from({ length: n }, (_, c) => open(c)));
process.stdout.write('ready\n');
const deadline = Date.now() + Number(timeoutMs);
while (received.some((x) => x < want) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
for (const c of conns) c.destroy();
lags.sort((a, b) => a - b);
const at = (p: number) => (lags.length ? lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))]! : NaN);
process.stdout.write(`${JSON.stringify({ deliveredMin: Math.min(...received), lagP50Ms: at(50), lagP99Ms: at(99), lagMaxMs: lags.length ? lags[lags.length - 1]! : NaN })}\n`);
