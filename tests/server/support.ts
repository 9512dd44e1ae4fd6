// Shared set-up for the server tests: a real server on 127.0.0.1 (random port), policy files
// written to a temporary directory, and a small HTTP client.
import fs from 'node:fs';
import type { ExecutionContext } from 'ava';
import path from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.ts';
import { tempDir } from '../helpers.ts';

export const TOKEN = 'test-token-0123456789abcdef';

/** Denies `rm -rf *`, asks for `sudo *`, watches `curl *`; everything else is allowed. */
export const BASE_POLICY = `version: "1"
default_action: allow
policies:
  - name: no-destruction
    match:
      tool: exec
    rules:
      - action: deny
        when:
          command_matches: ["rm -rf *"]
        message: Destructive command blocked
  - name: privileged
    match:
      tool: exec
    rules:
      - action: ask
        when:
          command_matches: ["sudo *"]
        message: Privileged command needs approval
  - name: network
    match:
      tool: exec
    rules:
      - action: watch
        when:
          command_matches: ["curl *"]
        message: Network access observed
`;

export interface TestServer {
  server: RunningServer;
  dir: string;
  policyFile: string;
  auditDir: string;
  logs: string[];
  /** POST/GET with the right token unless `token` says otherwise (null = no header). */
  call(route: string, body?: unknown, opts?: { token?: string | null; method?: string; raw?: string }): Promise<{ status: number; json: any; text: string }>;
}

/** Starts a server that is closed when the test `t` ends (pass or fail). */
export async function startTestServer(t: ExecutionContext, overrides: Partial<ServerOptions> = {}, policy = BASE_POLICY): Promise<TestServer> {
  const dir = tempDir('rampart-server-');
  const policyFile = path.join(dir, 'policy.yaml');
  fs.writeFileSync(policyFile, policy);
  const auditDir = path.join(dir, 'audit');
  const logs: string[] = [];
  const server = await startServer({
    addr: '127.0.0.1',
    port: 0,
    mode: 'enforce',
    token: TOKEN,
    policy: { configFile: policyFile },
    auditDir,
    log: (line) => logs.push(line),
    ...overrides,
  });
  t.teardown(() => server.close());
  const call: TestServer['call'] = async (route, body, opts = {}) => {
    const token = opts.token === undefined ? TOKEN : opts.token;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const method = opts.method ?? (body === undefined && opts.raw === undefined ? 'GET' : 'POST');
    const reply = await fetch(server.url + route, {
      method,
      headers,
      body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await reply.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: reply.status, json, text };
  };
  return { server, dir, policyFile, auditDir, logs, call };
}

/** Every audit record (chain markers skipped) of a directory, oldest first. */
export function auditRecords(auditDir: string): any[] {
  if (!fs.existsSync(auditDir)) return [];
  return fs
    .readdirSync(auditDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => fs.readFileSync(path.join(auditDir, f), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line))
    .filter((record) => 'decision' in record);
}

/** Polls `check` until it returns true (bounded; robustness on a loaded machine, not timing). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}
