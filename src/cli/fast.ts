/**
 * The commands the bin runs from a bundle of their own (`dist/bin/fast/<file>.js`: main.ts with only
 * that command, one file; esbuild.config.mjs): the ones run once per image or per piece of evidence,
 * whose whole-process time is benchmarked against reference tools. Every other run loads the code-split
 * CLI (`dist/bin/cli.js`). Neither layout loads a module twice.
 */
export const FAST_COMMANDS: ReadonlyMap<string, string> = new Map([
  ['measure snp', 'measure-snp'],
  ['measure pcr', 'measure-pcr'],
  ['verify', 'verify'],
]);

/** The fast bundle for argv, when its leading words name a fast command (the words main.ts's command table matches). */
export function fastCommand(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  return FAST_COMMANDS.get(words.slice(0, 2).join(' ')) ?? FAST_COMMANDS.get(words[0] ?? '');
}
