/** Library entry: `import { snpLaunchDigest } from 'cvm-measure'`. Pure measurement functions and format parsers. */
export * from './errors.js';
