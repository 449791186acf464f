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

const $ = (id) => document.getElementById(id);
const el = {
  amount: $('amount'), conn: $('conn'), reader: $('reader'), prompt: $('prompt'), promptText: $('prompt-text'),
  card: $('card'), cardBrand: $('card-brand'), cardPan: $('card-pan'), cardMode: $('card-mode'),
  result: $('result'), outcome: $('outcome'), resultAmount: $('result-amount'), resultMessage: $('result-message'),
  rCard: $('r-card'), rAuth: $('r-auth'), rTx: $('r-tx'), rCodes: $('r-codes'), receipt: $('receipt'),
  sale: $('sale'), auth: $('auth'), cancel: $('cancel'), txid: $('txid'), cardtoken: $('cardtoken'), refund: $('refund'), void: $('void'),
  complete: $('complete'), sim: $('sim'), testcards: $('testcards'), log: $('log'),
};

const agent = new PosAgent({ url: `ws://${location.host}/v1/ws` });
let cents = 0;
let current = null; // the pending request's promise (has .id)

// --- amount entry, register style: digits push in from the right ---

function formatCents(c) {
  return (c / 100).toFixed(2);
}

function setCents(c) {
  cents = Math.max(0, Math.min(MAX_CENTS, c));
  el.amount.value = formatCents(cents);
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
  else if (e.key === 'Escape') cancelSale();
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

agent.on('state', (s) => {
  const map = {
    connecting: ['Connecting…', 'wait'], pairing: ['Waiting for approval…', 'wait'], open: ['Connected', 'ok'],
    unpaired: ['Not approved', 'bad'], closed: ['Disconnected', 'bad'],
  };
  const [text, kind] = map[s] || [s, 'wait'];
  pill(el.conn, text, kind);
  updateButtons();
});

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
  renderReaders();
});
agent.on('reader', (m) => {
  log(`Reader ${m.reader.model || m.reader.id}: ${m.event}${m.reader.detail ? ` (${m.reader.detail})` : ''}`, m.event === 'broken');
  renderReaders();
});
agent.on('paired', (m) => log(`Paired with the agent (${m.scope})`));
agent.on('error', (e) => {
  log(`${e.code}: ${e.message}`, true);
  if (e.code === 'not_paired') showPrompt('Ask the cashier to approve this page', 'alert');
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
  else log(`${m.action} from before the reload: ${OUTCOMES[m.outcome] || m.outcome}`, m.outcome !== 'approved');
  showResult(m);
});

agent.on('status', (m) => {
  renderReaders();
  for (const a of m.active || []) {
    if (current && a.id === current.id) continue;
    showPrompt(`Swipe, insert or tap card ($${a.amount}, started before the reload)`, 'wait');
    log(`Sale of $${a.amount} started before the reload is still waiting for a card`);
  }
});

function showResult(m) {
  el.result.hidden = false;
  el.outcome.textContent = OUTCOMES[m.outcome] || m.outcome;
  el.outcome.className = `outcome outcome-${m.outcome}`;
  el.result.dataset.outcome = m.outcome;
  const amount = m.transaction.amount || '';
  el.resultAmount.textContent = amount ? `$${amount}` : '';
  el.resultMessage.textContent = m.message || m.transaction.verbiage || '';
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
  el.sale.disabled = el.auth.disabled = !open || busy || !hasReader;
  el.refund.disabled = el.void.disabled = el.complete.disabled = !open || busy;
  el.cancel.disabled = !busy;
  el.testcards.querySelectorAll('button').forEach((b) => (b.disabled = !open));
}

async function run(label, promise) {
  current = promise;
  updateButtons();
  try {
    const m = await promise;
    showResult(m);
    log(`${label}: ${OUTCOMES[m.outcome] || m.outcome}${m.transaction.id ? ` (transaction ${m.transaction.id})` : ''}`, m.outcome !== 'approved');
  } catch (e) {
    showPrompt(e.message, 'alert');
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
  if (!current) return;
  try {
    await agent.cancel(current.id);
  } catch (e) {
    log(`Cancel refused: ${e.message}`, true);
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
    try {
      await agent.simulate({ card: c.card, entryMode });
    } catch (e) {
      log(`Simulated card refused: ${e.message}`, true);
    }
  });
  el.testcards.append(b);
}

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
agent.connect().catch(() => {});
