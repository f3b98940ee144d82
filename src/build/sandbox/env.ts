/** The fixed environment of a build step: nothing else reaches it (see innerArgv). */

export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function sandboxEnv(o: { sourceDateEpoch: number; jobs: number; home: string; extra?: Record<string, string> }): Record<string, string> {
  return {
    PATH: SANDBOX_PATH,
    HOME: o.home,
    SOURCE_DATE_EPOCH: String(o.sourceDateEpoch),
    TZ: 'UTC',
    LC_ALL: 'C.UTF-8',
    LANG: 'C.UTF-8',
    PYTHONHASHSEED: '0',
    PYTHONDONTWRITEBYTECODE: '1',
    JOBS: String(o.jobs),
    ...o.extra,
  };
}
