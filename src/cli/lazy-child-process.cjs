// Build-time stand-in for node:child_process, for commander only (esbuild.config.mjs).
// child_process is required on first use, not when commander loads (why: see there).
module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });
