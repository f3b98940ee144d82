/**
 * Lexical symlink resolution inside an archive's tree (tar and cpio readers): whether a link, followed
 * through the other links of the same tree, stays below the root. Pure: paths in, boolean out.
 */

/** At most this many link hops (Linux MAXSYMLINKS) before a chain counts as escaping. */
const MAX_HOPS = 40;

/** Follows in-tree symlinks lexically; false when the path would leave the tree (a `..` above the root). */
export function staysInside(start: string[], links: ReadonlyMap<string, string>, rooted: boolean): boolean {
  const queue = [...start];
  let stack: string[] = [];
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0 && !rooted) return false;
      stack.pop();
      continue;
    }
    stack.push(c);
    const t = links.get(stack.join('/'));
    if (t === undefined) continue;
    if (++hops > MAX_HOPS) return false;
    stack.pop();
    if (t.startsWith('/')) {
      if (!rooted) return false;
      stack = [];
    }
    queue.unshift(...t.split('/'));
  }
  return true;
}

/** Whether symlink `path` (relative to the root) pointing at `target` stays inside the tree `links` describes. */
export function linkStaysInside(path: string, target: string, links: ReadonlyMap<string, string>, rooted: boolean): boolean {
  return staysInside([...path.split('/').slice(0, -1), ...target.split('/')], links, rooted);
}
