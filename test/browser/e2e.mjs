// End-to-end test of the demo POS page and posagent.js in headless Chromium.
//
//   BASE_URL=http://127.0.0.1:7380/ node e2e.mjs     # against posagent demo --headless
//   FOREIGN_URL=...   also test pairing from another origin (the Go test's server)
//   ARTIFACTS=dir     where screenshots go (default ../../artifacts/browser)
//   CHROMIUM=path     the browser (default /usr/bin/chromium)
//   WS_CAPTURE=file   write every websocket frame of the pages to file, one plain text line each:
//                     time, send|recv, socket URL, payload (make leakscan scans it)
//
// Exit 0 when every step passed; 1 with the failing step otherwise.
import { chromium } from 'playwright-core';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE_URL = process.env.BASE_URL || 'http://127.0.0.1:7380/';
const FOREIGN_URL = process.env.FOREIGN_URL || '';
const ARTIFACTS = process.env.ARTIFACTS || path.join(here, '..', '..', 'artifacts', 'browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WS_CAPTURE = process.env.WS_CAPTURE ? path.resolve(process.env.WS_CAPTURE) : '';
const STEP_TIMEOUT = 15000;
// A clear card number: a run of 13–19 digits that passes Luhn.
function luhn(d) {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) { v *= 2; if (v > 9) v -= 9; }
    sum += v;
  }
  return sum % 10 === 0;
}
function clearPANs(text) {
  return (text.match(/\d{13,19}/g) || []).filter(luhn);
}

mkdirSync(ARTIFACTS, { recursive: true });
const problems = [];
let browser;
let framesCaptured = 0;

// captureFrames writes every websocket frame of page to WS_CAPTURE. The
// payload is written as it went over the wire, only line breaks turned into
// spaces: a capture that escaped or encoded it (JSON, base64) could hide a
// card number from the leak scan.
function captureFrames(page) {
  if (!WS_CAPTURE) return;
  page.on('websocket', (ws) => {
    const write = (dir, payload) => {
      const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('latin1');
      appendFileSync(WS_CAPTURE, `${new Date().toISOString()} ${dir} ${ws.url()} ${text.replace(/[\r\n]/g, ' ')}\n`);
      framesCaptured++;
    };
    ws.on('framesent', (f) => write('send', f.payload));
    ws.on('framereceived', (f) => write('recv', f.payload));
  });
}
if (WS_CAPTURE) writeFileSync(WS_CAPTURE, '');

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}

async function waitText(page, selector, text) {
  await page.waitForFunction(
    ([s, t]) => document.querySelector(s)?.textContent.includes(t),
    [selector, text],
    { timeout: STEP_TIMEOUT },
  );
}

async function outcome(page, want) {
  await page.waitForSelector(`#result[data-outcome="${want}"]:not([hidden])`, { timeout: STEP_TIMEOUT });
}

async function noClearPAN(page) {
  const text = await page.evaluate(() => document.documentElement.outerHTML + document.body.innerText);
  const found = clearPANs(text);
  check(found.length === 0, `the page shows ${found.length} clear card number(s)`);
}

async function typeAmount(page, digits) {
  await page.focus('#amount');
  await page.keyboard.press('Delete'); // clears
  for (const d of digits) await page.keyboard.press(d);
}

async function presentCard(page, brand, mode) {
  await page.check(`input[name=mode][value=${mode}]`);
  await page.click(`.testcard[data-card="${brand}"]`);
}

try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      // playwright gives every launch a fresh profile (toolchain.md's --user-data-dir).
      '--disable-component-update', '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  captureFrames(page);
  // Requests the page sends, by type (one cancel per Esc).
  const sent = {};
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    try {
      const t = JSON.parse(f.payload).type;
      sent[t] = (sent[t] || 0) + 1;
    } catch { /* not JSON */ }
  }));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });

  await step('the demo page loads and connects', async () => {
    const res = await page.goto(BASE_URL);
    check(res.ok(), `GET ${BASE_URL}: ${res.status()}`);
    check((res.headers()['content-security-policy'] || '').includes("frame-ancestors 'none'"), 'the page has a CSP');
    await waitText(page, '#conn', 'Connected');
    await page.waitForSelector('#sim:not([hidden])', { timeout: STEP_TIMEOUT });
    await waitText(page, '#reader', 'simulated');
    check(!(await page.isVisible('#card')), 'no empty card bar while idle');
    check(!(await page.isVisible('#down')), 'no down state while connected');
  });

  await step('keypad entry', async () => {
    for (const k of ['1', '2', '3', '4']) await page.click(`.keypad [data-key="${k}"]`);
    check((await page.inputValue('#amount')) === '12.34', 'keypad 1 2 3 4 makes 12.34');
  });

  await step('a chip sale is approved with the masked card and the EMV receipt', async () => {
    await page.click('#sale');
    await waitText(page, '#prompt-text', 'Swipe, insert or tap card');
    check(await page.isEnabled('#cancel'), 'cancel is enabled during the sale');
    await presentCard(page, 'visa', 'C');
    await outcome(page, 'approved');
    // Readers mask to first 4..6 / last 4 (ID TECH default 4/4, never more than 6/4).
    const masked = /^4111\d{0,2}\*{6,8}\d{4}$/;
    check(masked.test((await page.textContent('#card-pan')).trim()), 'masked card on the display');
    check(/4111\d{0,2}\*{6,8}\d{4}/.test(await page.textContent('#r-card')), 'masked card in the result');
    check((await page.textContent('#result-amount')) === '$12.34', 'amount in the result');
    check(await page.isVisible('#receipt'), 'EMV receipt shown');
    check((await page.textContent('#receipt')).includes('A0000000031010'), 'AID on the receipt');
    check((await page.inputValue('#txid')) !== '', 'the transaction id is kept for follow-ups');
    await noClearPAN(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'approved.png'), fullPage: true });
  });

  await step('after an approval the amount is cleared: Enter cannot charge again', async () => {
    check((await page.inputValue('#amount')) === '0.00', `amount cleared (got ${await page.inputValue('#amount')})`);
    check(!(await page.isEnabled('#sale')), 'Sale is disabled with no amount');
    const before = sent.sale || 0;
    await page.focus('#amount');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(300); // nothing must happen; give a wrong sale the time to be sent
    check((sent.sale || 0) === before, 'Enter sent no second sale');
    check(await page.isVisible('#result[data-outcome="approved"]'), 'the approval stays on the display');
  });

  await step('6.16 is declined (keyboard only)', async () => {
    await typeAmount(page, '616');
    check((await page.inputValue('#amount')) === '6.16', 'typed 6.16');
    await page.keyboard.press('Enter');
    await waitText(page, '#prompt-text', 'Swipe, insert or tap card');
    await presentCard(page, 'mc', 'S');
    await outcome(page, 'declined');
    check((await page.textContent('#r-codes')).includes('301'), 'decline status 301');
    await noClearPAN(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'declined.png'), fullPage: true });
  });

  await step('refund of the approved sale', async () => {
    await typeAmount(page, '100');
    await page.click('#refund');
    await outcome(page, 'approved');
    check((await page.textContent('#log')).includes('Refund: Approved'), 'refund logged');
  });

  await step('cancel a sale waiting for a card (Esc)', async () => {
    await typeAmount(page, '500');
    await page.click('#sale');
    await waitText(page, '#prompt-text', 'Swipe, insert or tap card');
    const cancels = sent.cancel || 0;
    await page.keyboard.press('Escape');
    await outcome(page, 'cancelled');
    check((sent.cancel || 0) - cancels === 1, `one Esc sent ${(sent.cancel || 0) - cancels} cancels, want 1`);
    check(!(await page.isVisible('#card')), 'a cancelled sale shows no card');
  });

  await step('a second tab: plain words on its customer display', async () => {
    await typeAmount(page, '700');
    await page.click('#sale');
    await waitText(page, '#prompt-text', 'Swipe, insert or tap card');
    const tab2 = await context.newPage();
    tab2.on('pageerror', (e) => problems.push(`second tab: ${e.message}`));
    await tab2.goto(BASE_URL);
    await waitText(tab2, '#conn', 'Connected');
    await waitText(tab2, '#prompt-text', 'in another tab');
    check(!(await tab2.textContent('#prompt-text')).includes('reload'), 'not called a reload');
    await typeAmount(tab2, '800');
    await tab2.click('#sale');
    await waitText(tab2, '#prompt-text', 'The reader is busy with another sale');
    const shown = await tab2.textContent('.customer');
    check(!/request|[0-9a-f]{8}-/.test(shown), `no ids or request names on the customer display: ${shown}`);
    check((await tab2.textContent('#log')).includes('busy'), 'the details are in the activity log');
    await tab2.close();
    await page.keyboard.press('Escape');
    await outcome(page, 'cancelled');
  });

  await step('layouts: 1280x800, 1024x600 (test cards visible during a sale), 390x844', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'layout-1280x800.png') });
    await page.setViewportSize({ width: 1024, height: 600 });
    await typeAmount(page, '1500');
    await page.click('#sale');
    await waitText(page, '#prompt-text', 'Swipe, insert or tap card');
    for (const sel of ['#prompt', '.testcard[data-card="visa"]', '.testcard[data-card="amex"]', '#cancel']) {
      const box = await page.locator(sel).boundingBox();
      check(box && box.y >= 0 && box.y + box.height <= 600 && box.x + box.width <= 1024, `${sel} visible at 1024x600 during a sale: ${JSON.stringify(box)}`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'layout-1024x600-sale.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    const header = await page.locator('.topbar').boundingBox();
    check(header.height <= 56, `the phone header is one line (${header.height}px)`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    check(overflow <= 390, `no sideways scrolling on a phone (page ${overflow}px wide)`);
    const prompt = await page.locator('#prompt').boundingBox();
    check(prompt.y + prompt.height <= 844, 'the customer display is on the first phone screen');
    await page.screenshot({ path: path.join(ARTIFACTS, 'layout-390x844-sale.png') });
    await page.screenshot({ path: path.join(ARTIFACTS, 'layout-390x844-full.png'), fullPage: true });
    await page.keyboard.press('Escape');
    await outcome(page, 'cancelled');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('reload during a sale: the new page finishes it', async () => {
    await typeAmount(page, '300');
    await page.click('#sale');
    await waitText(page, '#prompt-text', 'Swipe, insert or tap card');
    await page.reload();
    await waitText(page, '#conn', 'Connected');
    await waitText(page, '#prompt-text', 'sale started earlier or in another tab');
    await presentCard(page, 'disc', 'P');
    await outcome(page, 'approved');
    check(/^6011\d{0,2}\*+\d{4}$/.test((await page.textContent('#card-pan')).trim()), 'the card reached the reloaded page');
    await page.screenshot({ path: path.join(ARTIFACTS, 'after-reload.png'), fullPage: true });
  });

  if (FOREIGN_URL) {
    await step('a foreign origin pairs, keeps its token and reuses it after a reload', async () => {
      const p2 = await context.newPage();
      captureFrames(p2);
      p2.on('pageerror', (e) => problems.push(`foreign page error: ${e.message}`));
      await p2.goto(FOREIGN_URL);
      await p2.waitForFunction(() => window.__welcome, null, { timeout: STEP_TIMEOUT });
      const first = await p2.evaluate(() => window.__events.filter((e) => e.ev === 'paired').length);
      check(first === 1, `paired once on the first visit (got ${first})`);
      const token = await p2.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('posagent.token ')).length);
      check(token === 1, 'the token is kept in localStorage');
      await p2.reload();
      await p2.waitForFunction(() => window.__welcome, null, { timeout: STEP_TIMEOUT });
      const again = await p2.evaluate(() => window.__events.filter((e) => e.ev === 'paired').length);
      check(again === 0, 'the second visit used the stored token');
      await p2.close();
    });
  }

  check(problems.length === 0, `no page errors: ${problems.join('; ')}`);
  // An empty capture would make a clean leak scan prove nothing.
  check(!WS_CAPTURE || framesCaptured > 0, `websocket frames captured to ${WS_CAPTURE}`);
  if (WS_CAPTURE) console.log(`captured ${framesCaptured} websocket frames to ${WS_CAPTURE}`);
  console.log(`PASS (screenshots in ${ARTIFACTS})`);
} catch (e) {
  console.error(`FAIL ${e.message}`);
  for (const p of problems) console.error(`  ${p}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
}
