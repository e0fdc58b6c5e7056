/**
 * The durability point of the KMS audit trail: an HTTP answer leaves only after the call's audit
 * event is committed to the SOC's durable buffer. Checked by killing a real server process with
 * SIGKILL right after its last answer and reading the buffer back; and a buffer that refuses
 * events makes the routes answer 503 SOC_ERR_KMS_AUDIT instead of a result.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import type { EcsEvent, EventSink } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { KmsService, kmsRoutes } from '../src/kms/index.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xiangan-kms-audit-'));
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A server process: a durable buffer (behind a slow append) as audit sink, the KMS with one SM2 worker, the routes. */
function serverScript(dir: string): string {
  const href = (rel: string): string => new URL(rel, import.meta.url).href;
  const fastify = pathToFileURL(createRequire(import.meta.url).resolve('fastify')).href;
  return `
    const { DurableBuffer } = await import(${JSON.stringify(href('../src/buffer/durable.js'))});
    const { KmsService, kmsRoutes } = await import(${JSON.stringify(href('../src/kms/index.js'))});
    const Fastify = (await import(${JSON.stringify(fastify)})).default;
    const dir = ${JSON.stringify(dir)};
    const buffer = new DurableBuffer({ dir: dir + '/buffer' });
    // A slow disk: each append reaches the buffer 30 ms late, so an answer that did not wait for
    // the commit would be out long before its event is safe.
    const sink = { get full() { return buffer.full; }, append: (events) => new Promise((r) => setTimeout(r, 30)).then(() => buffer.append(events)) };
    const kms = KmsService.open({ dir: dir + '/kms', masterSecret: 'crash test master secret', iterations: 1000, sink, workers: 1 });
    const { token } = kms.createApp('crash', { keys: ['crash-*'], ops: ['sign'] });
    kms.createKey(kms.root, 'crash-sign', 'sm2-sign');
    kms.createKey(kms.root, 'other-sign', 'sm2-sign');
    const app = Fastify({ logger: false });
    await app.register(kmsRoutes, { service: kms });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    process.stdout.write(JSON.stringify({ url, token }) + '\\n');
  `;
}

function kmsEvents(dir: string): Array<Record<string, any>> {
  const buffer = new DurableBuffer({ dir: join(dir, 'buffer') });
  try {
    return buffer.read(1_000_000).flatMap((b) => b.events).filter((e) => (e as Record<string, any>).event?.dataset === 'xiangan.kms') as Array<Record<string, any>>;
  } finally {
    buffer.close();
  }
}

describe('KMS: audit committed before the answer', () => {
  test('SIGKILL right after the last answer loses no audit event of an answered call', async () => {
    const dir = tmp();
    // A script file, not `-e`: worker threads inherit the parent's execArgv, and `--input-type` there fails them.
    writeFileSync(join(dir, 'server.mjs'), serverScript(dir));
    const child = spawn(process.execPath, [join(dir, 'server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      const { url, token } = JSON.parse(line) as { url: string; token: string };
      const statuses = new Map<number, number>();
      const call = async (key: string, auth: string | undefined, i: number): Promise<void> => {
        const r = await fetch(`${url}/api/v1/kms/sign/${key}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) }, body: JSON.stringify({ input: b64(`message ${i}`) }) });
        await r.arrayBuffer();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      };
      // 16 clients at once: signs, refused tokens and a denied key, interleaved.
      await Promise.all(
        Array.from({ length: 16 }, async (_, c) => {
          for (let i = 0; i < 25; i++) {
            const n = c * 25 + i;
            if (n % 10 === 7) await call('crash-sign', 'xkms_not_a_token', n);
            else if (n % 10 === 3) await call('other-sign', token, n);
            else await call('crash-sign', token, n);
          }
        }),
      );
      child.kill('SIGKILL');
      await once(child, 'exit');
      assert.deepEqual([...statuses.entries()].sort(), [[200, 320], [401, 40], [403, 40]]);
      const events = kmsEvents(dir);
      const count = (action: string, outcome: string): number => events.filter((e) => e.event.action === action && e.event.outcome === outcome).length;
      assert.equal(count('sm2-sign', 'success'), 320);
      assert.equal(count('authenticate', 'failure'), 40);
      assert.equal(events.filter((e) => e.event.outcome === 'failure' && e.event.reason === 'SOC_ERR_KMS_DENIED').length, 40);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a buffer that refuses the events turns the answer into 503 SOC_ERR_KMS_AUDIT', async () => {
    const dir = tmp();
    let refuse = false;
    const seen: EcsEvent[] = [];
    const sink: EventSink = {
      full: false,
      append: async (events) => {
        if (refuse) throw new Error('buffer full');
        seen.push(...events);
      },
    } as EventSink;
    const kms = KmsService.open({ dir, masterSecret: 'refusing sink master secret', iterations: 1000, sink });
    const app = Fastify({ logger: false });
    try {
      await app.register(kmsRoutes, { service: kms });
      const { token } = kms.createApp('a', { keys: ['*'], ops: ['digest'] });
      const ask = () => app.inject({ method: 'POST', url: '/api/v1/kms/digest', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: { input: b64('abc') } });
      const ok = await ask();
      assert.equal(ok.statusCode, 200, ok.body);
      assert.ok(seen.some((e) => (e as Record<string, any>).event.action === 'sm3-digest' || (e as Record<string, any>).xiangan.kms.operation === 'digest'));
      refuse = true;
      const no = await ask();
      assert.equal(no.statusCode, 503);
      assert.equal(no.json().code, 'SOC_ERR_KMS_AUDIT');
      assert.ok(!('digest' in no.json()));
      assert.ok(kms.auditDropped >= 1);
    } finally {
      await app.close();
      await kms.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
