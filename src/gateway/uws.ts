/**
 * uWebSockets.js, loaded once, with proof that the native binary is in use. The package we install
 * (the trufflesuite build of uWS v20.30 for Node 20, ABI 115) silently falls back to a slow
 * JavaScript imitation when its binary does not load; an exchange must not run on that, so
 * `loadUws` refuses it and says which binary it loaded.
 */
import { createRequire } from 'node:module';
import type * as UwsTypes from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export type Uws = typeof UwsTypes;

let loaded: { uws: Uws; binary: string } | null = null;

/** The native uWS module and the binary's name; throws if only the JavaScript fallback loaded. */
export function loadUws(): { uws: Uws; binary: string } {
  if (loaded !== null) return loaded;
  const uws = require('uWebSockets.js') as Uws & Record<string, unknown>;
  // the native addon exports its C++ helpers (getParts, H3App...); the fallback exports only App
  if (typeof uws.getParts !== 'function' || typeof uws.H3App !== 'function')
    throw new Error('uWebSockets.js: the native binary did not load (JavaScript fallback in use); see the log above for why');
  const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  loaded = { uws, binary };
  return loaded;
}
