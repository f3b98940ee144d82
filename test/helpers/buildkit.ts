/** The buildkit tests' recipe: a `run` component over a built-in's output and a pinned .deb (see test/buildkit.test.ts). */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from './shared.js';

export const PARITY_RECIPE = `name: parity
sourceDateEpoch: 1700000000
base: { suite: bookworm, variant: minbase }
inputs:
  busybox: { debian-binary: busybox-static=1:1.35.0-4+deb12u1+b1 }
  init: { file: init }
  initrd-img: { from: initrd.initrd.cpio }
components:
  initrd:
    type: cpio
    entries:
      - { path: init, source: init, mode: "0755" }
      - { path: bin/busybox, source: { input: busybox, member: bin/busybox }, mode: "0755" }
    output: initrd.cpio
  shell:
    type: run
    inputs: [busybox, init, initrd-img]
    env: { EXTRA: "from the recipe" }
    steps:
      - name: unpack
        run: |
          mkdir -p tree/bin tree/dev
          dpkg-deb --fsys-tarfile /src/busybox | tar -xO ./bin/busybox > tree/bin/busybox
          chmod 0755 tree/bin/busybox && ln -s busybox tree/bin/sh
          cp /src/init tree/init && cp /src/initrd-img tree/initrd.cpio
      - name: pack
        run: |
          find tree -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
          tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -C tree -cf - . | gzip -n -9 > /out/tree.tar.gz
          { env | sort; umask; id -u; pwd; ls -A /build/shell | sort; grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status
            cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '; ls -l /src | tail -n +2 | cut -c1-10; } > /out/report.txt
    outputs: [tree.tar.gz, report.txt]
`;

/** A directory holding the parity recipe and its file input. */
export function parityDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bk-parity-'));
  writeFileSync(join(dir, 'parity.yaml'), PARITY_RECIPE);
  cpSync(resolve(ROOT, 'recipes/initrd/init'), join(dir, 'init'));
  return dir;
}
