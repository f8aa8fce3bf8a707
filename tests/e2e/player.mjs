#!/usr/bin/env node
// Plays the emulator's development page in headless Chromium until the video
// ends, and says how it went.
//
//   node tests/e2e/player.mjs PAGE_URL SCREENSHOT_PATH [TIMEOUT_MS]
//
// The page keeps window.playerState = {currentTime, duration, ended,
// fatalError, errors, levels, requests}. Success: the video ended, or reached
// its last half second, with no fatal error, within TIMEOUT_MS (default
// 60000). A screenshot is taken after about 2 s of playback and again at the
// end (same file). One JSON line goes to stdout:
//   {"ok", "currentTime", "duration", "fatalError", "errors", "levels",
//    "requests", "unsigned", "urls", "reason"}
// requests and unsigned count what the page logged (unsigned: no CloudFront
// signature in the query); urls lists them; reason says why ok is false (null when it is true).
// The page's console errors and exceptions go to stderr.
// Live streams: with WATCH_S=N in the environment, success is N seconds of
// wall-clock playback from the first frame (no end to reach), and the JSON
// also has "watched" (s), "advanced" (media seconds played meanwhile),
// "longestFreeze" (longest wall-clock stretch, in s, in which the playhead
// did not move) and "playlists": every playlist response the page received,
// as {at (epoch s), url, status, body}.
// Exit status: 0 played to the end (or watched), 1 failed, 2 usage.
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const POLL_MS = 200;
const SHOT_AT_S = 2;

function usage(msg) {
  if (msg) console.error(`player.mjs: ${msg}`);
  console.error('usage: node tests/e2e/player.mjs PAGE_URL SCREENSHOT_PATH [TIMEOUT_MS]');
  process.exit(2);
}

const [pageUrl, shotPath, timeoutArg] = process.argv.slice(2);
if (!pageUrl || !shotPath) usage();
const timeoutMs = timeoutArg === undefined ? 60000 : Number(timeoutArg);
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage(`bad TIMEOUT_MS: ${timeoutArg}`);

const watchS = process.env.WATCH_S ? Number(process.env.WATCH_S) : null;
if (watchS !== null && !(watchS > 0)) usage(`bad WATCH_S: ${process.env.WATCH_S}`);
const playlists = [];
let watchStart = null;
let startTime = 0;
let lastMove = null;
let lastTime = -1;
let longestFreeze = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const deadline = Date.now() + timeoutMs;

let state = null;
let failure = null;
let browser = null;
let page = null;

async function screenshot() {
  try {
    await page.screenshot({ path: shotPath, fullPage: true, timeout: 10000 });
  } catch (err) {
    console.error(`player.mjs: screenshot failed: ${err.message}`);
  }
}

try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: timeoutMs,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      '--mute-audio',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.error(`page console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => console.error(`page exception: ${err.message}`));
  if (watchS !== null) {
    page.on('response', async (res) => {
      const url = res.url();
      if (!/\.(_?m3u8|_?mpd)(\?|$)/.test(new URL(url).pathname + '?')) return;
      const at = Date.now() / 1000;
      let body = '';
      try { body = await res.text(); } catch (err) { body = ''; }
      playlists.push({ at, url, status: res.status(), body });
    });
  }
  page.on('requestfailed', (req) => {
    console.error(`page request failed: ${req.url()} (${req.failure()?.errorText ?? 'unknown'})`);
  });

  await page.goto(pageUrl, { waitUntil: 'load', timeout: Math.max(1, deadline - Date.now()) });

  let shot = false;
  for (;;) {
    state = await page.evaluate(() => {
      const s = window.playerState;
      return s ? JSON.parse(JSON.stringify(s)) : null;
    });
    if (state) {
      if (state.fatalError) {
        failure = `fatal player error: ${state.fatalError}`;
        break;
      }
      if (!shot && state.currentTime >= SHOT_AT_S) {
        await screenshot();
        shot = true;
      }
      if (watchS !== null) {
        const now = Date.now() / 1000;
        if (watchStart === null && state.currentTime > 0) {
          watchStart = now;
          startTime = state.currentTime;
          lastMove = now;
        }
        if (watchStart !== null) {
          if (state.currentTime !== lastTime) {
            lastTime = state.currentTime;
            lastMove = now;
          }
          longestFreeze = Math.max(longestFreeze, now - lastMove);
          if (now - watchStart >= watchS) break;
        }
      } else {
        const atEnd = state.duration > 0 && state.currentTime >= state.duration - 0.5;
        if (state.ended || atEnd) break;
      }
    }
    if (Date.now() >= deadline) {
      failure = state
        ? `timed out after ${timeoutMs} ms at ${state.currentTime.toFixed(2)} s of ${state.duration.toFixed(2)} s`
        : `timed out after ${timeoutMs} ms: the page never set window.playerState`;
      break;
    }
    await sleep(POLL_MS);
  }
} catch (err) {
  failure = err.message.split('\n')[0];
}

if (page) await screenshot();
if (browser) await browser.close().catch(() => {});

const requests = Array.isArray(state?.requests) ? state.requests : [];
const result = {
  ok: failure === null,
  currentTime: state?.currentTime ?? 0,
  duration: state?.duration ?? 0,
  fatalError: state?.fatalError ?? null,
  errors: state?.errors ?? [],
  levels: state?.levels ?? 0,
  requests: requests.length,
  unsigned: requests.filter((r) => !r.signed).length,
  urls: requests.map((r) => r.url),
  reason: failure,
};
if (watchS !== null) {
  const now = Date.now() / 1000;
  result.watched = watchStart === null ? 0 : now - watchStart;
  result.advanced = watchStart === null ? 0 : (state?.currentTime ?? 0) - startTime;
  result.longestFreeze = longestFreeze;
  result.playlists = playlists;
  result.requestLog = requests;
}
if (failure !== null) console.error(`player.mjs: ${failure}`);
// Large results (live playlists) outgrow a pipe's buffer: exit once written.
process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
