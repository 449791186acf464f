// Pairing, reachability and the examples/ pages against a real `posagent
// demo` (agent_test.go starts it and the pages): run through
// TestBrowserDemoPairing.
//
//   AGENT_URL     the demo's page, e.g. http://127.0.0.1:41234/
//   ALLOWED_URL   a page whose origin the demo got with --allow-origin
//   PAIRED_URL    a page whose origin `posagent pair --origin` approved
//   UNKNOWN_URL   a page the agent does not know: it follows the not_paired message
//   EXAMPLE_PLAIN_URL, EXAMPLE_TYPED_URL   examples/plain-html and examples/typescript (allowed origins)
//   POSAGENT_BIN  the binary the message's command is run with
//   AGENT_PID     the demo's pid: the last step stops it
//   FRAMES        a file for every websocket message the agent sent the pages, one per line
//                 (agent_test.go compares docs/protocol.md's examples with them)
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const env = process.env;
const STEP_TIMEOUT = 15000;
const ARTIFACTS = env.ARTIFACTS || 'artifacts';
mkdirSync(ARTIFACTS, { recursive: true });
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}

let browser;
const problems = [];
try {
  browser = await chromium.launch({
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext();
  const open = async (url) => {
    const p = await context.newPage();
    p.on('pageerror', (e) => problems.push(`${url}: ${e.message}`));
    if (env.FRAMES) p.on('websocket', (ws) => ws.on('framereceived', (f) => appendFileSync(env.FRAMES, `${f.payload}\n`)));
    await p.goto(url);
    return p;
  };

  await step('a page allowed with demo --allow-origin is admitted without pairing', async () => {
    const p = await open(env.ALLOWED_URL);
    await p.waitForFunction(() => window.__welcome || window.__refused, null, { timeout: STEP_TIMEOUT });
    check(await p.evaluate(() => !!window.__welcome), `welcomed (refused: ${await p.evaluate(() => window.__refusedMessage)})`);
    check(await p.evaluate(() => window.__welcome.origin) === new URL(env.ALLOWED_URL).origin, 'the welcome names the page origin');
    const v = await p.evaluate(() => window.__welcome.agent.version);
    check(/^1\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(v), `welcome's agent.version is a 1.x semantic version: ${v}`);
    await p.close();
  });

  await step('a page approved with a plain `posagent pair --origin` pairs with the running demo', async () => {
    const p = await open(env.PAIRED_URL);
    await p.waitForFunction(() => window.__welcome || window.__refused, null, { timeout: STEP_TIMEOUT });
    check(await p.evaluate(() => !!window.__welcome), `welcomed (refused: ${await p.evaluate(() => window.__refusedMessage)})`);
    check(await p.evaluate(() => window.__events.some((e) => e.ev === 'paired')), 'it got a token');
    await p.close();
  });

  await step('an unknown page follows its not_paired message and is admitted without a reload', async () => {
    const p = await open(env.UNKNOWN_URL);
    await p.waitForFunction(() => window.__refused, null, { timeout: STEP_TIMEOUT });
    const msg = await p.evaluate(() => window.__refusedMessage);
    check(await p.evaluate(() => window.__refused) === 'not_paired', 'refused with not_paired');
    const cmd = /`(posagent pair [^`]+)`/.exec(msg);
    check(cmd, `the message names a command: ${msg}`);
    const args = cmd[1].split(/\s+/).slice(1);
    check(args.includes(new URL(env.UNKNOWN_URL).origin), `the command names the page's origin: ${cmd[1]}`);
    const out = execFileSync(env.POSAGENT_BIN, args, { env }).toString();
    check(out.includes('agent: posagent demo'), `the command reached the demo: ${out}`);
    // posagent.js says hello again by itself: no reload, no code in the page.
    await p.waitForFunction(() => window.__welcome, null, { timeout: STEP_TIMEOUT });
    await p.close();
  });

  await step('connect({timeout: 2000}) rejects with agent_unreachable when no agent listens', async () => {
    const p = await open(env.ALLOWED_URL);
    const r = await p.evaluate(async (agentURL) => {
      const { PosAgent } = await import(agentURL + 'posagent.js');
      // A port nothing listens on (the allowed page's own server speaks no websocket).
      const a = new PosAgent({ url: 'ws://127.0.0.1:9/v1/ws' });
      const t0 = performance.now();
      try {
        await a.connect({ timeout: 2000 });
        return { code: 'resolved' };
      } catch (e) {
        return { code: e.code, message: e.message, ms: performance.now() - t0, state: a.state };
      } finally {
        a.close();
      }
    }, env.AGENT_URL);
    check(r.code === 'agent_unreachable', `rejected with agent_unreachable, got ${JSON.stringify(r)}`);
    check(r.ms >= 1900, `not before the timeout (${Math.round(r.ms)} ms)`);
    check(/not answering/.test(r.message), `a message that says what happened: ${r.message}`);
    await p.close();
  });

  for (const [name, url] of [['plain-html', env.EXAMPLE_PLAIN_URL], ['typescript', env.EXAMPLE_TYPED_URL]]) {
    if (!url) {
      console.log(`skip examples/${name}: not served (see the Go test's log)`);
      continue;
    }
    await step(`examples/${name}: an approved sale from its own origin`, async () => {
      const agentHost = new URL(env.AGENT_URL).host;
      const p = await open(`${url.replace(/\/?$/, '/')}?agent=${agentHost}`);
      await p.waitForSelector('#charge:not([disabled])', { timeout: STEP_TIMEOUT });
      await p.fill('#amount', '12.34');
      await p.click('#charge');
      await p.waitForFunction(() => document.getElementById('prompt').textContent !== '', null, { timeout: STEP_TIMEOUT });
      // The cashier presents a card: the simulated reader, through a connection of the same page.
      await p.evaluate(async (host) => {
        const { PosAgent } = await import(`http://${host}/posagent.js`);
        const a = new PosAgent({ url: `ws://${host}/v1/ws`, statusOnConnect: false, autoAck: false });
        await a.connect({ timeout: 5000 });
        await a.simulate({ card: 'visa', entryMode: 'C' });
        a.close();
      }, agentHost);
      await p.waitForSelector('#result[data-outcome=approved]', { timeout: STEP_TIMEOUT });
      const text = await p.textContent('#result');
      check(/Approved.*4111\d{0,2}\*+\d{4}/.test(text), `the result shows the masked card: ${text}`);
      await p.screenshot({ path: path.join(ARTIFACTS, `example-${name}.png`) });
      await p.close();
    });
  }

  await step('a tour of the protocol (declined, cancelled, busy, status, simulate, ack) for the docs check', async () => {
    const p = await open(env.ALLOWED_URL);
    const r = await p.evaluate(async (host) => {
      const { PosAgent } = await import(`http://${host}/posagent.js`);
      const a = new PosAgent({ url: `ws://${host}/v1/ws` });
      await a.connect({ timeout: 5000 });
      const out = {};
      const waitPrompt = () => new Promise((res) => { const off = a.on('prompt', () => { off(); res(); }); });
      let prompted = waitPrompt();
      const declined = a.sale({ amount: '6.16', orderNum: 'A1001', description: '2 coffees' });
      await prompted;
      await a.simulate({ card: 'mc', entryMode: 'S' });
      out.declined = (await declined).outcome;
      prompted = waitPrompt();
      const cancelled = a.sale({ amount: '5.00' });
      await prompted;
      try {
        await a.sale({ amount: '1.00' });
      } catch (e) {
        out.busy = e.code;
      }
      out.active = (await a.status()).active.length;
      await a.cancel(cancelled.id);
      out.cancelled = (await cancelled).outcome;
      a.close();
      return out;
    }, new URL(env.AGENT_URL).host);
    check(r.declined === 'declined' && r.cancelled === 'cancelled' && r.busy === 'busy' && r.active === 1, `the tour: ${JSON.stringify(r)}`);
    await p.close();
  });

  await step('simulator scenarios: bad read, clear track data, unplug mid-sale, gateway timeout after commit', async () => {
    const p = await open(env.ALLOWED_URL);
    const r = await p.evaluate(async (host) => {
      const { PosAgent } = await import(`http://${host}/posagent.js`);
      const a = new PosAgent({ url: `ws://${host}/v1/ws` });
      await a.connect({ timeout: 5000 });
      const seen = [];
      for (const ev of ['prompt', 'error', 'reader', 'result', 'card']) {
        a.on(ev, (m) => seen.push(`${ev}:${m.code || m.prompt || m.event || m.outcome || m.entry_mode || ''}${m.replay ? '/replay' : ''}`));
      }
      const until = (pred, ms = 10000) => new Promise((res, rej) => {
        const t0 = Date.now();
        const tick = () => (pred() ? res() : Date.now() - t0 > ms ? rej(new Error(`timed out: ${seen.join(' ')}`)) : setTimeout(tick, 50));
        tick();
      });
      const out = {};
      const run = async (name, scenario, amount) => {
        seen.length = 0;
        const sale = a.sale({ amount });
        await until(() => seen.includes('prompt:present_card'));
        try {
          await a.simulate({ card: 'visa', entryMode: 'S', scenario });
        } catch (e) {
          out[name + '_simulate'] = e.code;
        }
        if (scenario === 'bad_read' || scenario === 'clear_track_data') {
          await until(() => seen.includes('prompt:retry'));
          await a.simulate({ card: 'visa', entryMode: 'S' }); // the cashier tries again
        }
        if (scenario === 'unplug') {
          await until(() => seen.includes('reader:detached'));
          await until(() => seen.includes('reader:attached'), 15000);
          await until(() => seen.some((s) => s.startsWith('prompt:present_card')) , 15000);
          await a.simulate({ card: 'visa', entryMode: 'S' }).catch((e) => { out.unplug_after = e.code; });
        }
        const res = await Promise.race([sale, new Promise((r2) => setTimeout(() => r2({ outcome: 'none' }), 20000))]);
        out[name] = { outcome: res.outcome, seen: seen.join(' ') };
      };
      await run('bad_read', 'bad_read', '2.01');
      await run('clear', 'clear_track_data', '2.02');
      await run('timeout', 'gateway_timeout', '2.03');
      await run('unplug', 'unplug', '2.04');
      a.close();
      return out;
    }, new URL(env.AGENT_URL).host);
    const has = (name, ...want) => {
      for (const w of want) check(r[name].seen.split(' ').includes(w), `${name}: the page saw ${w} (saw ${r[name].seen})`);
      check(r[name].outcome === 'approved', `${name}: the sale still ends approved (${r[name].outcome})`);
    };
    // A damaged read: a warning with the integrity failure, the reader asks again, the next read goes through.
    has('bad_read', 'prompt:retry');
    check(/error:bad_(crc|lrc|checksum|read)/.test(r.bad_read.seen), `bad_read: a damaged-read warning (${r.bad_read.seen})`);
    // A reader that is not encrypting: refused, never sent; the sale waits for an encrypted read.
    has('clear', 'error:clear_track_data', 'prompt:retry');
    // Unplugged mid-sale: the page sees the reader go and come back, and the sale carries on.
    has('unplug', 'reader:detached', 'reader:attached');
    // The sandbox committed, its answer was lost: the agent looked the sale up (its log says so,
    // agent_test.go checks) and the page gets the committed outcome, once.
    has('timeout', 'card:S');
    check(r.timeout.seen.split(' ').filter((x) => x.startsWith('result:')).length === 1, `timeout: one result (${r.timeout.seen})`);
    await p.close();
  });

  await step('the demo page rehearses scenarios: unencrypted card, then unplug', async () => {
    const p = await open(env.AGENT_URL);
    const text = (sel) => p.textContent(sel);
    await p.waitForSelector('#sim:not([hidden])', { timeout: STEP_TIMEOUT });
    await p.focus('#amount');
    for (const k of '321') await p.keyboard.press(k);
    await p.click('#sale');
    await p.waitForFunction(() => document.getElementById('prompt-text').textContent.includes('Swipe'), null, { timeout: STEP_TIMEOUT });
    await p.selectOption('#scenario', 'clear_track_data');
    await p.check('input[name=mode][value=S]');
    await p.click('.testcard[data-card="visa"]');
    await p.waitForFunction(() => document.getElementById('prompt-text').textContent.includes('Try again'), null, { timeout: STEP_TIMEOUT });
    check((await text('#log')).includes('clear_track_data'), 'the activity log names the refusal');
    check(!(await text('.customer')).includes('clear_track_data'), 'the customer display does not show the code');
    check((await p.inputValue('#scenario')) === '', 'the next card reads well again');
    await p.click('.testcard[data-card="visa"]');
    await p.waitForSelector('#result[data-outcome="approved"]:not([hidden])', { timeout: STEP_TIMEOUT });
    await p.click('#unplug');
    await p.waitForFunction(() => !document.getElementById('reader').textContent.includes('simulated'), null, { timeout: STEP_TIMEOUT });
    await p.waitForFunction(() => document.getElementById('reader').textContent.includes('simulated'), null, { timeout: STEP_TIMEOUT });
    check((await text('#log')).includes('detached'), 'the log shows the reader leaving');
    await p.close();
  });

  // Last: it stops the agent.
  await step('the demo page blocks within 2 s of the agent stopping mid-sale, and resets', async () => {
    const p = await open(env.AGENT_URL);
    await p.waitForFunction(() => document.getElementById('conn').textContent.includes('Connected'), null, { timeout: STEP_TIMEOUT });
    await p.waitForSelector('#sim:not([hidden])', { timeout: STEP_TIMEOUT });
    await p.focus('#amount');
    for (const k of '999') await p.keyboard.press(k);
    await p.click('#sale');
    await p.waitForFunction(() => document.getElementById('prompt-text').textContent.includes('Swipe'), null, { timeout: STEP_TIMEOUT });
    check(await p.isEnabled('#cancel'), 'cancel enabled during the sale');
    const t0 = Date.now();
    process.kill(Number(env.AGENT_PID), 'SIGTERM');
    await p.waitForSelector('#down:not([hidden])', { timeout: 2000 });
    const ms = Date.now() - t0;
    check((await p.textContent('#down-title')).includes('not running'), 'it says posagent is not running');
    check(!(await p.textContent('#prompt-text')).includes('Swipe'), 'the customer display no longer asks for a card');
    check(!(await p.textContent('#reader')).includes('simulated'), 'the reader pill no longer shows a ready reader');
    check(!(await p.isEnabled('#cancel')) && !(await p.isEnabled('#sale')), 'Cancel and Sale are disabled');
    check(!(await p.isVisible('#sim')), 'no test cards while the agent is away');
    await p.screenshot({ path: path.join(ARTIFACTS, 'agent-down.png') });
    console.log(`     down state after ${ms} ms`);
    await p.close();
  });

  check(problems.length === 0, `no page errors: ${problems.join('; ')}`);
  console.log('PASS');
} catch (e) {
  console.error(`FAIL ${e.message}`);
  for (const p of problems) console.error(`  ${p}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
}
