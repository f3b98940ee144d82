/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The repository pages' one script (bundled to assets/site.js): the pages read without it; it adds
 * the evidence verifier on release pages and the filter on the lookup page.
 */
import { setUpLookup } from './lookup.js';
import { setUpVerifier } from './verifier.js';

const verifier = document.getElementById('verifier');
if (verifier) setUpVerifier(verifier);
const lookup = document.getElementById('lookup');
if (lookup instanceof HTMLFormElement) setUpLookup(lookup);
