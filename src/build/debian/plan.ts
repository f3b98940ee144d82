/**
 * What a Debian source package's own rules do for one binary package, read from the rules themselves:
 * `make -n -f debian/rules <target>` (Debian Policy §4.9: debian/rules is a makefile) lists the commands
 * in order; every edk2 `build` invocation is one variant (platform, architectures, -D flags, build
 * type) and the files a step leaves in the package's install staging are its outputs (`cp … DEST`, a
 * generator's `-o FILE`). debhelper's `debian/<pkg>.install` (dh_install(1): source globs, then a
 * destination directory) and `debian/<pkg>.links` (dh_link(1): source, destination pairs) map those
 * outputs to the paths the binary package ships.
 */
import { posix } from 'node:path';
import { InputError } from '../../errors.js';

/** One step of the plan: an edk2 platform build, or another command that writes files (a vars generator). */
export interface PlanStep {
  /** 1-based, in the order the rules run them. */
  index: number;
  kind: 'edk2-build' | 'command';
  /** The command as make prints it (continuations joined, whitespace collapsed). */
  command: string;
  /** edk2-build: `-p` platform .dsc, `-a` architectures, `-b` build type, `-t` toolchain and the `-D` defines. */
  platform?: string;
  arch?: string[];
  buildType?: string;
  toolchain?: string;
  defines?: string[];
  /** Files this step writes, relative to the source tree. */
  outputs: string[];
}

/** make's dry-run output as logical commands (backslash continuations joined). */
export function commandsOf(dryRun: string): string[] {
  return dryRun
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

/** The value after each occurrence of `flag` in a whitespace-split command. */
function flagValues(words: string[], flag: string): string[] {
  const out: string[] = [];
  words.forEach((w, i) => {
    if (w === flag && words[i + 1] !== undefined) out.push(words[i + 1]!);
  });
  return out;
}

/** The edk2 `build` invocation in a command (`set -e; . ./edksetup.sh; build -a X64 …`), as words. */
function edk2Build(command: string): string[] | undefined {
  const m = /(?:^|;\s*)build(\s+-.*)$/.exec(command);
  return m ? m[1]!.trim().split(' ') : undefined;
}

/** Files a command writes into `stagingPrefix` (`cp SRC… DEST[/]`, `… -o FILE`). */
function writtenFiles(command: string, stagingPrefix: string): string[] {
  const words = command.split(' ');
  // only paths that stay inside the staging directory (no `..` out of it, nothing absolute)
  const inside = (f: string) => posix.normalize(f).startsWith(stagingPrefix) && !f.split('/').includes('..');
  if (words[0] === 'cp' && words.length >= 3) {
    const dest = words[words.length - 1]!;
    const srcs = words.slice(1, -1).filter((w) => !w.startsWith('-'));
    if (!dest.startsWith(stagingPrefix)) return [];
    return (dest.endsWith('/') || srcs.length > 1 ? srcs.map((s) => posix.join(dest, posix.basename(s))) : [dest]).filter(inside);
  }
  return flagValues(words, '-o').filter(inside);
}

/**
 * The steps of a dry run, each distinct command once (make prints a multi-target rule's recipe once per
 * target under -n; a real run executes it once). `stagingDirs` are the install staging directories the
 * binary package's .install file reads from (e.g. `debian/ovmf-install`).
 */
export function planSteps(dryRun: string, stagingDirs: string[]): PlanStep[] {
  const steps: PlanStep[] = [];
  const seen = new Set<string>();
  let current: PlanStep | undefined;
  for (const command of commandsOf(dryRun)) {
    const b = edk2Build(command);
    const outputs = stagingDirs.flatMap((d) => writtenFiles(command, `${d.replace(/\/$/, '')}/`));
    if (b) {
      if (seen.has(command)) {
        current = undefined; // a repeated recipe: its outputs are the first run's
        continue;
      }
      seen.add(command);
      current = {
        index: steps.length + 1,
        kind: 'edk2-build',
        command,
        platform: flagValues(b, '-p')[0],
        arch: flagValues(b, '-a'),
        buildType: flagValues(b, '-b')[0],
        toolchain: flagValues(b, '-t')[0],
        defines: b.filter((w) => w.startsWith('-D')),
        outputs: [],
      };
      steps.push(current);
    } else if (outputs.length > 0 && !/^cp /.test(command)) {
      if (seen.has(command)) continue;
      seen.add(command);
      current = undefined;
      steps.push({ index: steps.length + 1, kind: 'command', command, outputs });
    } else if (current) for (const o of outputs) if (!current.outputs.includes(o)) current.outputs.push(o);
  }
  return steps;
}

/** One line of debian/<pkg>.install: source globs (relative to the tree) and the destination directory. */
export interface InstallRule {
  sources: string[];
  dest: string | undefined;
}

/** The words of each non-empty, non-comment line of a debhelper config file. */
const configLines = (text: string): string[][] =>
  text
    .split('\n')
    .map((l) => l.replace(/^\s*#.*$/, '').trim())
    .filter(Boolean)
    .map((l) => l.split(/\s+/));

/** A package path (leading `/` dropped) with no `..` component. */
function packagePath(p: string, what: string, role: string): string {
  if (p.split('/').includes('..')) throw new InputError(`${what}: ${role} ${JSON.stringify(p)} leaves the package's tree`);
  return p.replace(/^\/+/, '');
}

export function parseInstall(text: string, what: string): InstallRule[] {
  return configLines(text).map((w) => {
    const sources = w.length === 1 ? w : w.slice(0, -1);
    for (const s of sources) {
      if (s.startsWith('/') || s.split('/').includes('..')) throw new InputError(`${what}: source ${JSON.stringify(s)} lies outside the source tree`);
      globRegExp(s, what); // a bad glob is refused here, with the file named
    }
    return { sources, dest: w.length === 1 ? undefined : packagePath(w[w.length - 1]!, what, 'destination') };
  });
}

/** debian/<pkg>.links: `source destination` pairs, both paths in the package (dh_link makes them relative). */
export function parseLinks(text: string, what: string): { target: string; link: string }[] {
  return configLines(text).map((w) => {
    if (w.length !== 2) throw new InputError(`${what}: line ${JSON.stringify(w.join(' '))} is not a source and destination pair`);
    return { target: packagePath(w[0]!, what, 'link target'), link: packagePath(w[1]!, what, 'link') };
  });
}

/**
 * A shell glob (`*`, `?`, `[…]` with `!` negation and a leading `]` literal, within one path component) as
 * a RegExp over tree-relative paths.
 * @throws {InputError} naming `what` for a class the RegExp refuses (e.g. a reversed range `[z-a]`).
 */
export function globRegExp(glob: string, what = 'glob'): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const negated = glob[i + 1] === '!';
      const first = i + (negated ? 2 : 1);
      const end = glob.indexOf(']', first + 1); // a `]` right after `[` or `[!` is a member
      if (end < 0) re += '\\[';
      else {
        re += `[${negated ? '^' : ''}${glob.slice(first, end).replace(/[\\\]^[]/g, '\\$&')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\[\]]/g, '\\$&');
  }
  try {
    return new RegExp(`^${re}$`);
  } catch {
    throw new InputError(`${what}: bad glob ${JSON.stringify(glob)}`);
  }
}

/** Where dh_install looks first for the source of a one-path .install line. */
export const DH_TMP = 'debian/tmp/';

/**
 * Which tree file each shipped path comes from: every `.install` rule's globs matched against
 * `treeFiles` (what the build left, plus the planned outputs not built), destination dir + basename.
 */
export function installMap(rules: InstallRule[], treeFiles: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of rules)
    for (const src of r.sources) {
      if (r.dest === undefined) {
        // a one-path line (dh_install): the file under debian/tmp, installed at its path below it; else the tree's
        const staged = globRegExp(`${DH_TMP}${src}`);
        const hits = treeFiles.filter((f) => staged.test(f));
        if (hits.length) for (const f of hits) out.set(f.slice(DH_TMP.length), f);
        else for (const f of treeFiles.filter((f) => globRegExp(src).test(f))) out.set(f, f);
      } else {
        const re = globRegExp(src);
        for (const f of treeFiles) if (re.test(f)) out.set(posix.join(r.dest, posix.basename(f)), f);
      }
    }
  return out;
}
