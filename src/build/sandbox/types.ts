/** The sandbox contract every backend implements (the orchestrator codes against src/build/sandbox-api.ts, the same shape). */

export type BackendName = 'docker' | 'podman' | 'bwrap' | 'chroot';
export type BackendPref = 'auto' | BackendName;

/** One step: a command in a fresh, network-less sandbox on top of the read-only base rootfs. */
export interface SandboxRun {
  /** Extracted, verified base rootfs directory (treated read-only; see rootfs.ts extractRootfs). */
  rootfs: string;
  /** /src/<input> read-only, /build/<component> and /out writable; targets are absolute in-sandbox paths. */
  binds: { source: string; target: string; writable: boolean }[];
  /** The complete environment: nothing from the host or the container runtime reaches the step. */
  env: Record<string, string>;
  argv: string[];
  /** Absolute in-sandbox working directory. */
  cwd: string;
  umask: number;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** `build --check` varies it; `SANDBOX_HOSTNAME` otherwise. */
  hostname?: string;
}

export interface Sandbox {
  readonly name: BackendName;
  run(r: SandboxRun): Promise<{ exitCode: number }>;
}

/** A backend before selection: `probe` returns why it cannot be used here, or undefined when its smoke test passed. */
export interface Backend extends Sandbox {
  probe(): Promise<string | undefined>;
}

export const SANDBOX_HOSTNAME = 'cvm-build';
