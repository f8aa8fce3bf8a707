// The original Node.js design, kept as a benchmark baseline: every line that
// does not start with '#' is signed with a canned policy, the PEM key is
// passed (and so parsed) on every call, and '.m3u8' becomes '._m3u8'.
// Its known defects (tag URIs left unsigned, first-occurrence replace,
// prefix joining) are reproduced on purpose: this measures that design.
//
// usage: node seed-baseline.js PLAYLIST PRIVATE_KEY_PEM URL_PREFIX [SECONDS]
// prints: {"ms_per_rewrite": N, "iterations": N, "output_bytes": N}
'use strict';

const fs = require('fs');
const { getSignedUrl } = require('@aws-sdk/cloudfront-signer');

const [playlistPath, keyPath, urlPrefix, seconds = '3'] = process.argv.slice(2);
if (!playlistPath || !keyPath || !urlPrefix) {
  console.error('usage: node seed-baseline.js PLAYLIST PRIVATE_KEY_PEM URL_PREFIX [SECONDS]');
  process.exit(2);
}
const playlist = fs.readFileSync(playlistPath, 'utf8');
const privateKey = fs.readFileSync(keyPath, 'utf8');
const keyPairId = 'KBASELINE';

function sign(url, expiryInMs) {
  return getSignedUrl({
    url,
    keyPairId,
    privateKey,
    dateLessThan: new Date(Date.now() + expiryInMs).toISOString(),
  });
}

function rewrite(text, expiryInMs) {
  const lines = text.split('\n');
  const body = [];
  for (const line of lines) {
    if (line.startsWith('#')) {
      body.push(line);
    } else if (line === '') {
      body.push(line);
    } else if (line.endsWith('.m3u8')) {
      body.push(sign(urlPrefix + '/' + line.replace('.m3u8', '._m3u8'), expiryInMs));
    } else {
      body.push(sign(urlPrefix + '/' + line, expiryInMs));
    }
  }
  return body.join('\n');
}

let output = rewrite(playlist, 3600 * 1000); // warm-up
const budgetMs = Number(seconds) * 1000;
let iterations = 0;
const start = process.hrtime.bigint();
let elapsedMs = 0;
do {
  output = rewrite(playlist, 3600 * 1000);
  iterations += 1;
  elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
} while (elapsedMs < budgetMs && iterations < 10000);

console.log(JSON.stringify({
  ms_per_rewrite: elapsedMs / iterations,
  iterations,
  output_bytes: Buffer.byteLength(output),
}));
