/** Debian packages cvm-measure needs beyond Node, by purpose; `cvm-measure doctor` checks and installs them. */
import { execa } from 'execa';
import { BuildError } from '../errors.js';

export type Purpose = 'build' | 'test';

export interface Requirement {
  /** Debian package name. */
  apt: string;
  purpose: Purpose[];
  why: string;
}

export const REQUIREMENTS: readonly Requirement[] = [
  { apt: 'ca-certificates', purpose: ['build', 'test'], why: 'fetching pinned inputs over TLS' },
  { apt: 'openssl', purpose: ['test'], why: 'independent DSSE signature check' },
];

export interface RequirementStatus extends Requirement {
  installed: boolean;
}

/** Asks dpkg which requirements are installed (one process for all). */
export async function checkRequirements(purposes: readonly Purpose[]): Promise<RequirementStatus[]> {
  const wanted = REQUIREMENTS.filter((r) => r.purpose.some((p) => purposes.includes(p)));
  const res = await execa('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...wanted.map((r) => r.apt)], { reject: false });
  const installed = new Set(
    res.stdout
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return wanted.map((r) => ({ ...r, installed: installed.has(r.apt) }));
}

/** apt-get update + install of the named packages (as root, or through sudo). */
export async function installPackages(packages: readonly string[], log: (line: string) => void): Promise<void> {
  if (packages.length === 0) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const run = async (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    log(`$ ${args.join(' ')}`);
    const r = await execa(cmd!, rest, { env, reject: false, all: true });
    if (r.exitCode !== 0) {
      const tail = (r.all ?? '').trim().split('\n').slice(-1)[0] ?? '';
      throw new BuildError(`${args.slice(0, 2).join(' ')} failed (exit ${r.exitCode}): ${tail}`);
    }
  };
  await run(['apt-get', 'update', '-qq']);
  await run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]);
}
