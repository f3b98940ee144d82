// Build-time stand-in for node:child_process in the CLI entry bundle (package.json "bundle-cli").
// commander requires child_process when it loads but uses it only for executable subcommands, which
// cvm-measure has none of; loading it eagerly (net, dgram, streams) costs ~5 ms of every start-up.
module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });
