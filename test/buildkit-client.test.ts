/** The BuildKit client probe sees the engine the builds will use (its own process: findClient probes once). */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { findClient } from '../src/build/buildkit/client.js';

const saved = { PATH: process.env.PATH, DOCKER_TLS_VERIFY: process.env.DOCKER_TLS_VERIFY };
afterAll(() => {
  process.env.PATH = saved.PATH;
  if (saved.DOCKER_TLS_VERIFY === undefined) delete process.env.DOCKER_TLS_VERIFY;
  else process.env.DOCKER_TLS_VERIFY = saved.DOCKER_TLS_VERIFY;
});

it('a TLS-only remote engine (DOCKER_TLS_VERIFY) answers the probe as it answers the builds', async () => {
  const bin = mkdtempSync(join(tmpdir(), 'cvm-fake-docker-'));
  writeFileSync(
    join(bin, 'docker'),
    '#!/bin/sh\nif [ "$1" = version ]; then\n  [ -n "${DOCKER_TLS_VERIFY:-}" ] || { echo "Client sent an HTTP request to an HTTPS server." >&2; exit 1; }\n  echo "24.0.7 24.0.7"; exit 0\nfi\n[ "$1" = buildx ] && exit 0\nexit 1\n',
  );
  chmodSync(join(bin, 'docker'), 0o755);
  process.env.PATH = bin;
  process.env.DOCKER_TLS_VERIFY = '1';
  expect(await findClient()).toEqual({ docker: join(bin, 'docker'), kind: 'buildx', version: 'client 24.0.7, engine 24.0.7' });
});
