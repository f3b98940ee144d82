// `node --import <this file>`: appends the URL of every module resolved under node_modules to the file
// named by $CVM_RECORD_PACKAGES (one a line), so a test can see which npm packages an import loads.
import { register } from 'node:module';

register('./record-packages-hooks.mjs', import.meta.url, { data: { file: process.env.CVM_RECORD_PACKAGES } });
