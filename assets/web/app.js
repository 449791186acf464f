// The demo POS page: a register driving posagent through posagent.js.
import { PosAgent } from './posagent.js';

// Simulated cards by brand: the simulated reader makes up a fresh test
// number on the brand's test BIN, so this page never holds a card number.
// The sandbox approves or declines by the amount.
const TEST_CARDS = [
  { brand: 'Visa', card: 'visa', bin: '411111' },
  { brand: 'Mastercard', card: 'mc', bin: '545454' },
  { brand: 'Discover', card: 'disc', bin: '601100' },
  { brand: 'Amex', card: 'amex', bin: '371449' },
];

const PROMPTS = {
  present_card: ['Swipe, insert or tap card', 'wait'],
  use_chip: ['Use chip', 'alert'],
  retry: ['Try again: swipe, insert or tap card', 'alert'],
  processing: ['Processing…', 'busy'],
  remove_card: ['Remove card', 'alert'],
};
const OUTCOMES = { approved: 'Approved', declined: 'Declined', cancelled: 'Cancelled', error: 'Error', unknown: 'Pending' };
const MODES = { S: 'Swiped', C: 'Chip', P: 'Contactless', F: 'Fallback swipe', K: 'Keyed' };
const BRANDS = { visa: 'VISA', mc: 'MASTERCARD', amex: 'AMEX', disc: 'DISCOVER', jcb: 'JCB', diners: 'DINERS' };
const MAX_CENTS = 9999999;
// What the customer display says when a request is refused; the agent's
// own message (ids, request names) goes to the activity log only.
const REFUSALS = {
  busy: 'The reader is busy with another sale',
  no_reader: 'No card reader is connected',
  paused: 'Sales are paused at the counter',
  not_paired: 'This page is not approved yet',
  disconnected: 'posagent is not running',
  closed: 'posagent is not running',
  duplicate_id: 'This sale was already started',
  unsupported: 'The payment gateway cannot take this card',
  invalid_request: 'Check the amount and try again',
  journal_error: 'posagent could not record the sale: nothing was charged',
};

const $ = (id) => document.getElementById(id);
const el = {
  amount: $('amount'), conn: $('conn'), reader: $('reader'), prompt: $('prompt'), promptText: $('prompt-text'),
  card: $('card'), cardBrand: $('card-brand'), cardPan: $('card-pan'), cardMode: $('card-mode'),
  result: $('result'), outcome: $('outcome'), resultAmount: $('result-amount'), resultMessage: $('result-message'),
  rCard: $('r-card'), rAuth: $('r-auth'), rTx: $('r-tx'), rCodes: $('r-codes'), receipt: $('receipt'),
  sale: $('sale'), auth: $('auth'), cancel: $('cancel'), txid: $('txid'), cardtoken: $('cardtoken'), refund: $('refund'), void: $('void'),
  complete: $('complete'), sim: $('sim'), testcards: $('testcards'), log: $('log'),
  down: $('down'), downTitle: $('down-title'), downText: $('down-text'), scenario: $('scenario'), unplug: $('unplug'),
};

const agent = new PosAgent({ url: `ws://${location.host}/v1/ws` });
let cents = 0;
let current = null; // the pending request's promise (has .id)
let cancelling = false; // a cancel of current is unanswered

// --- amount entry, register style: digits push in from the right ---

function formatCents(c) {
  return (c / 100).toFixed(2);
}

function setCents(c) {
  cents = Math.max(0, Math.min(MAX_CENTS, c));
  el.amount.value = formatCents(cents);
  updateButtons();
}

function key(k) {
  if (k === 'back') setCents(Math.floor(cents / 10));
  else if (k === 'clear') setCents(0);
  else if (k === '00') setCents(cents * 100);
  else setCents(cents * 10 + Number(k));
}

document.querySelectorAll('.keypad [data-key]').forEach((b) => b.addEventListener('click', () => key(b.dataset.key)));

el.amount.addEventListener('keydown', (e) => {
  if (/^[0-9]$/.test(e.key)) key(e.key);
  else if (e.key === 'Backspace') key('back');
  else if (e.key === 'Delete') key('clear');
  else if (e.key === 'Tab') return;
  else if (e.key === 'Enter') startSale('sale');
  else if (e.key === 'Escape') return; // the document's handler cancels: once per press
  else if (e.key.length > 1 && e.key !== 'Unidentified') return; // arrows etc.
  e.preventDefault();
});
el.amount.addEventListener('paste', (e) => {
  e.preventDefault();
  const v = Number((e.clipboardData.getData('text') || '').replace(/[^0-9.]/g, ''));
  if (Number.isFinite(v)) setCents(Math.round(v * 100));
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && current) cancelSale();
});

// --- connection and readers ---

function pill(node, text, kind) {
  node.textContent = text;
  node.className = `pill pill-${kind}`;
}

let everOpen = false;

agent.on('state', (s) => {
  const map = {
    connecting: ['Connecting…', 'wait'], pairing: ['Waiting for approval…', 'wait'], open: ['Connected', 'ok'],
    unpaired: ['Not approved', 'bad'], closed: ['Disconnected', 'bad'],
  };
  const [text, kind] = map[s] || [s, 'wait'];
  pill(el.conn, text, kind);
  if (s === 'open') everOpen = true;
  if (s === 'connecting' || s === 'closed') showDown(everOpen ? 'reconnecting' : 'connecting');
  else el.down.hidden = true;
  updateButtons();
});

// showDown blocks the page while the agent cannot be reached, and resets
// everything that described the agent: the prompt, the reader, the card.
// A sale in progress is not lost: its result arrives after the reconnect.
function showDown(why) {
  const texts = {
    connecting: ['Connecting to posagent…', 'Waiting for the agent on this computer.'],
    reconnecting: ['posagent is not running', 'The connection to the agent was lost. Reconnecting… A sale in progress is kept by the agent: its result shows here once it is back.'],
    unreachable: ['posagent is not running', 'Start it on this computer (posagent demo, or the posagent service). This page reconnects by itself.'],
  };
  const [title, text] = texts[why];
  el.downTitle.textContent = title;
  el.downText.textContent = text;
  el.down.hidden = false;
  showPrompt(title, 'alert');
  pill(el.reader, 'Reader unknown', 'wait');
  el.card.hidden = true;
  el.sim.hidden = true;
}

function renderReaders() {
  const rs = agent.readers || [];
  const ok = rs.find((r) => r.status === 'ok');
  const broken = rs.find((r) => r.status === 'broken');
  if (ok) pill(el.reader, `${ok.model || 'Reader'}${ok.simulated ? ' (simulated)' : ''}`, 'ok');
  else if (broken) pill(el.reader, `Reader problem: ${broken.detail || 'unusable'}`, 'bad');
  else pill(el.reader, 'No reader', 'bad');
  const sim = agent.agent?.simulate && rs.some((r) => r.simulated && r.status === 'ok');
  el.sim.hidden = !sim;
  const emv = rs.some((r) => r.simulated && r.emv);
  document.querySelectorAll('input[name=mode]').forEach((i) => {
    i.disabled = !emv && i.value !== 'S';
    if (!emv && i.value === 'S') i.checked = true;
  });
  updateButtons();
}

agent.on('welcome', (m) => {
  log(`Connected to posagent ${m.agent.version} as ${m.origin}`);
  // The down state's prompt goes; status then shows sales still running.
  if (current) showPrompt('Swipe, insert or tap card', 'wait');
  else showPrompt('Ready for the next sale', 'idle');
  renderReaders();
});
agent.on('reader', (m) => {
  log(`Reader ${m.reader.model || m.reader.id}: ${m.event}${m.reader.detail ? ` (${m.reader.detail})` : ''}`, m.event === 'broken');
  renderReaders();
});
agent.on('paired', (m) => log(`Paired with the agent (${m.scope})`));
agent.on('error', (e) => {
  log(`${e.code}: ${e.message}`, true);
  if (e.code === 'not_paired') showPrompt('Ask the cashier to approve this page (see the activity log)', 'alert');
});

// --- the customer display ---

function showPrompt(text, kind) {
  el.promptText.textContent = text;
  el.prompt.className = `prompt prompt-${kind}`;
}

agent.on('prompt', (m) => {
  if (current && m.id !== current.id) return;
  const [text, kind] = PROMPTS[m.prompt] || [m.prompt, 'wait'];
  showPrompt(text, kind);
});

agent.on('card', (m) => {
  if (current && m.id !== current.id) return;
  el.card.hidden = false;
  el.cardBrand.textContent = BRANDS[m.brand] || 'CARD';
  el.cardPan.textContent = m.masked_pan;
  el.cardMode.textContent = MODES[m.entry_mode] || m.entry_mode;
  log(`Card read: ${m.masked_pan} (${MODES[m.entry_mode] || m.entry_mode})`);
});

// Results of sales this page did not start here — a sale started before a
// reload, or a result replayed because it was never acknowledged — are
// shown too: the agent keeps them for this origin until they are.
agent.on('result', (m) => {
  if (current && m.id === current.id) return; // run() shows it
  if (m.replay) log(`Result delivered after reconnect: ${m.action} ${OUTCOMES[m.outcome] || m.outcome}`);
  else log(`${m.action} started earlier or in another tab: ${OUTCOMES[m.outcome] || m.outcome}`, m.outcome !== 'approved');
  showResult(m);
});

agent.on('status', (m) => {
  renderReaders();
  for (const a of m.active || []) {
    if (current && a.id === current.id) continue;
    // Started by another tab of this page, or by this tab before a reload.
    showPrompt(`Swipe, insert or tap card ($${a.amount}, sale started earlier or in another tab)`, 'wait');
    log(`A sale of $${a.amount} started earlier or in another tab is still in progress (request ${a.id})`);
  }
});

function showResult(m) {
  el.result.hidden = false;
  el.outcome.textContent = OUTCOMES[m.outcome] || m.outcome;
  el.outcome.className = `outcome outcome-${m.outcome}`;
  el.result.dataset.outcome = m.outcome;
  const amount = m.transaction.amount || '';
  el.resultAmount.textContent = amount ? `$${amount}` : '';
  // Declines show the gateway's verbiage; an error or unknown outcome a
  // plain sentence (its details are in the activity log).
  el.resultMessage.textContent = {
    error: 'The payment did not go through: nothing was charged',
    unknown: 'The gateway has not confirmed this payment yet: posagent checks it and shows the answer',
  }[m.outcome] || m.message || m.transaction.verbiage || '';
  if ((m.outcome === 'error' || m.outcome === 'unknown') && m.message) log(`${m.action} ${m.outcome}: ${m.message}`, true);
  el.rCard.textContent = m.card.masked_pan ? `${BRANDS[m.card.brand] || ''} ${m.card.masked_pan}`.trim() : '—';
  el.rAuth.textContent = m.transaction.auth_code || '—';
  el.rTx.textContent = m.transaction.id || '—';
  el.rCodes.textContent = m.transaction.status_id ? `${m.transaction.status_id} / ${m.transaction.reason_code_id}` : '—';
  const body = el.receipt.tBodies[0];
  body.replaceChildren();
  for (const k of ['APPLAB', 'APPN', 'AID', 'TC', 'TVR', 'TSI', 'ATC', 'CVM']) {
    if (!m.receipt[k]) continue;
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = m.receipt[k];
    tr.append(th, td);
    body.append(tr);
  }
  el.receipt.hidden = body.rows.length === 0;
  if (m.outcome === 'approved' && m.transaction.id && (m.action === 'sale' || m.action === 'authonly')) el.txid.value = m.transaction.id;
  const [text, kind] = {
    approved: ['Approved — thank you', 'ok'], declined: ['Declined — try another card', 'alert'],
    cancelled: ['Cancelled', 'idle'],
  }[m.outcome] || ['See the result below', 'alert'];
  showPrompt(text, kind);
}

function clearDisplay() {
  el.card.hidden = true;
  el.result.hidden = true;
}

// --- requests ---

function updateButtons() {
  const open = agent.state === 'open';
  const busy = !!current;
  const hasReader = (agent.readers || []).some((r) => r.status === 'ok');
  el.sale.disabled = el.auth.disabled = !open || busy || !hasReader || cents <= 0;
  el.refund.disabled = el.void.disabled = el.complete.disabled = !open || busy;
  el.cancel.disabled = !open || !busy || cancelling;
  el.testcards.querySelectorAll('button').forEach((b) => (b.disabled = !open));
  el.unplug.disabled = !open;
}

async function run(label, promise) {
  current = promise;
  updateButtons();
  try {
    const m = await promise;
    showResult(m);
    log(`${label}: ${OUTCOMES[m.outcome] || m.outcome}${m.transaction.id ? ` (transaction ${m.transaction.id})` : ''}`, m.outcome !== 'approved');
    // A sale that charged (or may have) leaves no amount behind: one more
    // Enter must not charge the card again.
    if (m.outcome === 'approved' || m.outcome === 'unknown') setCents(0);
  } catch (e) {
    showPrompt(REFUSALS[e.code] || `${label} could not start (see the activity log)`, 'alert');
    log(`${label} refused: ${e.code}: ${e.message}`, true);
  } finally {
    if (current === promise) current = null;
    updateButtons();
  }
}

function startSale(action) {
  if (current || agent.state !== 'open') return;
  if (cents <= 0) {
    showPrompt('Enter an amount first', 'alert');
    el.amount.focus();
    return;
  }
  clearDisplay();
  const amount = formatCents(cents);
  log(`${action === 'authonly' ? 'Authorization' : 'Sale'} of $${amount} started`);
  // A stored card token (PaidYET takes no reader sales) replaces the reader.
  const cardToken = el.cardtoken.value.trim();
  const sale = cardToken ? { amount, action, cardToken } : { amount, action };
  run(action === 'authonly' ? 'Authorization' : 'Sale', agent.sale(sale));
}

async function cancelSale() {
  if (!current || cancelling) return;
  cancelling = true;
  updateButtons();
  try {
    await agent.cancel(current.id);
  } catch (e) {
    log(`Cancel refused: ${e.message}`, true);
  } finally {
    cancelling = false;
    updateButtons();
  }
}

function followUp(kind) {
  if (current || agent.state !== 'open') return;
  const transactionId = el.txid.value.trim();
  if (!transactionId) {
    showPrompt('Enter the transaction ID first', 'alert');
    el.txid.focus();
    return;
  }
  clearDisplay();
  const amount = kind === 'void' || cents === 0 ? undefined : formatCents(cents);
  log(`${kind} of ${transactionId} started`);
  showPrompt('Processing…', 'busy');
  run(kind[0].toUpperCase() + kind.slice(1), agent[kind]({ transactionId, amount }));
}

el.sale.addEventListener('click', () => startSale('sale'));
el.auth.addEventListener('click', () => startSale('authonly'));
el.cancel.addEventListener('click', cancelSale);
el.refund.addEventListener('click', () => followUp('refund'));
el.void.addEventListener('click', () => followUp('void'));
el.complete.addEventListener('click', () => followUp('complete'));

// --- the simulated reader ---

for (const c of TEST_CARDS) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'testcard';
  b.dataset.card = c.card;
  const masked = `${c.bin}…`;
  b.setAttribute('aria-label', `Present a test ${c.brand} card`);
  const brand = document.createElement('span');
  brand.className = 'tc-brand';
  brand.textContent = c.brand;
  const pan = document.createElement('span');
  pan.className = 'tc-pan';
  pan.textContent = masked;
  b.append(brand, pan);
  b.addEventListener('click', async () => {
    const entryMode = document.querySelector('input[name=mode]:checked')?.value || 'S';
    const scenario = el.scenario.value || undefined;
    el.scenario.value = ''; // one card each: the next reads well again
    try {
      await agent.simulate({ card: c.card, entryMode, scenario });
      if (scenario) log(`Simulated: ${c.brand} card, ${el.scenario.querySelector(`option[value="${scenario}"]`).textContent}`);
    } catch (e) {
      log(`Simulated card refused: ${e.message}`, true);
    }
  });
  el.testcards.append(b);
}

el.unplug.addEventListener('click', async () => {
  try {
    await agent.simulate({ scenario: 'unplug' });
    log('Simulated: the reader was unplugged (it comes back in a few seconds)');
  } catch (e) {
    log(`Unplug refused: ${e.message}`, true);
  }
});

// --- activity log ---

function log(text, isError = false) {
  const li = document.createElement('li');
  const t = document.createElement('time');
  t.textContent = new Date().toLocaleTimeString();
  const s = document.createElement('span');
  s.textContent = text;
  if (isError) s.className = 'err';
  li.append(t, s);
  el.log.prepend(li);
  while (el.log.children.length > 50) el.log.lastChild.remove();
}

setCents(0);
updateButtons();
agent.connect({ timeout: 3000 }).catch((e) => {
  if (e.code === 'agent_unreachable') showDown('unreachable');
});
