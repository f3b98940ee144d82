/**
 * The generated references (docs/cli.md, docs/man/*) must match the commander declarations and the
 * recipe schema: regenerate them in memory and compare with the committed files. If this fails, run
 * `npm run docs` and commit the result.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateDocs, ROOT } from '../scripts/docs.js';
import { completionScript, SHELLS } from '../src/cli/completion.js';
import { createFullProgram } from '../src/cli/program.js';
import { type CommandInfo, describeCommand, flatten } from '../src/cli/tree.js';

const tree = async () => describeCommand(await createFullProgram());
const title = (c: CommandInfo) => ['cvm-measure', ...c.path].join(' ');

describe('generated CLI documentation', () => {
  it('docs/cli.md, docs/man/cvm-measure.1 and docs/man/cvm-measure-recipe.5 are up to date (else: npm run docs)', async () => {
    const docs = await generateDocs();
    expect(Object.keys(docs).sort()).toEqual(['docs/cli.md', 'docs/man/cvm-measure-recipe.5', 'docs/man/cvm-measure.1']);
    for (const [path, text] of Object.entries(docs)) {
      let committed = '';
      try {
        committed = readFileSync(join(ROOT, path), 'utf8');
      } catch {
        // missing: reported by the comparison below
      }
      expect(committed, `${path} is stale: run npm run docs and commit it`).toBe(text);
    }
  });

  it('documents every command and every recipe property', async () => {
    const docs = await generateDocs();
    for (const c of flatten(await tree())) {
      expect(docs['docs/cli.md']).toContain(`## ${title(c)}\n`);
      for (const o of c.options) expect(docs['docs/cli.md']).toContain(o.flags);
    }
    const names = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'properties' && x && typeof x === 'object') for (const n of Object.keys(x)) names.add(n);
          walk(x);
        }
      }
    };
    walk(JSON.parse(readFileSync(join(ROOT, 'schemas/recipe.schema.json'), 'utf8')));
    expect(names.size).toBeGreaterThan(20);
    for (const n of names) expect(docs['docs/man/cvm-measure-recipe.5'], n).toContain(n.replace(/-/g, '\\-'));
  });

  it("every command's --help has an example, and each example uses only that command's options", async () => {
    const all = flatten(await tree());
    const byPath = new Map(all.map((c) => [c.path.join(' '), c]));
    for (const c of all) {
      expect(c.examples.length, `${title(c)} has no example`).toBeGreaterThan(0);
      for (const example of c.examples) {
        // every cvm-measure invocation in the line, including $(cvm-measure ...)
        for (const part of example.split(/\$\(|\)|&&|\|\||[|;>]/).filter((p) => /(^|\s)cvm-measure(\s|$)/.test(p))) {
          const words = part.split(/\s+/).filter(Boolean);
          words.splice(0, words.indexOf('cvm-measure') + 1);
          let cmd = byPath.get('')!;
          for (const w of words) {
            const sub = cmd.subcommands.find((s) => s.name === w);
            if (!sub) break;
            cmd = sub;
          }
          const longs = new Set(cmd.options.map((o) => o.long));
          for (const flag of words.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!)) {
            expect(longs.has(flag), `${title(c)} example "${example}": ${title(cmd)} has no ${flag}`).toBe(true);
          }
        }
      }
    }
  });
});

describe('completion scripts', () => {
  it('name every command and long option', async () => {
    const root = await tree();
    for (const shell of SHELLS) {
      const script = completionScript(root, shell);
      for (const c of flatten(root).slice(1)) {
        expect(script, `${shell}: ${title(c)}`).toContain(c.name);
        for (const o of c.options) if (o.long) expect(script, `${shell}: ${title(c)} ${o.long}`).toContain(shell === 'fish' ? `-l ${o.long.slice(2)}` : o.long);
      }
    }
  });

  for (const shell of SHELLS) {
    const installed = spawnSync(shell, ['-c', 'true']).status === 0;
    it.skipIf(!installed)(`${shell} accepts its script (-n)`, async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'cvm-completion-')), `cvm-measure.${shell}`);
      writeFileSync(file, completionScript(await tree(), shell));
      const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      rmSync(dirname(file), { recursive: true });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }

  it('bash completes subcommands, options and choices', async () => {
    const script = completionScript(await tree(), 'bash');
    const complete = (words: string[]) => {
      const r = spawnSync(
        'bash',
        [
          '-c',
          `${script}\nCOMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _cvm_measure; printf '%s\\n' "\${COMPREPLY[@]}"`,
          'bash',
          'cvm-measure',
          ...words,
        ],
        { encoding: 'utf8' },
      );
      return r.stdout.split('\n').filter(Boolean);
    };
    expect(complete(['measure', ''])).toEqual(['snp', 'tdx', 'td-shim-payload', 'pcr']);
    expect(complete(['measure', 'snp', '--fi'])).toEqual(['--firmware']);
    expect(complete(['measure', 'snp', '--firmware', 'OVMF.fd', '--output-format', ''])).toEqual(['hex', 'base64']);
    expect(complete(['completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(complete(['uki', 'build', '--o'])).toEqual(['--osrel', '--out']);
  });

  it.skipIf(spawnSync('fish', ['-c', 'true']).status !== 0)('fish completes subcommands, options and choices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-completion-'));
    writeFileSync(join(dir, 'c.fish'), completionScript(await tree(), 'fish'));
    const complete = (line: string) => {
      const r = spawnSync('fish', ['--no-config', '-c', `source ${dir}/c.fish; complete -C '${line}'`], { encoding: 'utf8' });
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0])
        .sort();
    };
    try {
      expect(complete('cvm-measure measure ')).toEqual(['pcr', 'snp', 'td-shim-payload', 'tdx']);
      expect(complete('cvm-measure measure snp --fi')).toEqual(['--firmware']);
      expect(complete('cvm-measure measure snp --firmware OVMF.fd --output-format ')).toEqual(['base64', 'hex']);
      expect(complete('cvm-measure completion ')).toEqual(['bash', 'fish', 'zsh']);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
