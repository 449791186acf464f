// posagent.js — the browser client of the posagent websocket protocol v1
// (docs/protocol.md). A dependency-free ES module:
//
//   import { PosAgent } from './posagent.js';
//   const agent = new PosAgent({ url: 'ws://127.0.0.1:7380/v1/ws' });
//   agent.on('prompt', (m) => show(m.prompt));
//   await agent.connect();
//   const result = await agent.sale({ amount: '12.34' });
//   if (result.outcome === 'approved') printReceipt(result);
//
// It reconnects with backoff, pairs (keeping the token in localStorage per
// agent URL), matches replies to requests by id, and after a reconnect asks
// for status so that a result that arrived while the page was away is
// delivered — and acknowledged — exactly like a live one.

export const PROTOCOL = 1;
export const DEFAULT_URL = 'ws://127.0.0.1:7380/v1/ws';

/** Backoff between reconnects, in milliseconds (then the last one). */
const BACKOFF = [250, 500, 1000, 2000, 4000, 8000, 15000];
/** How long a request other than a sale waits for its reply. */
const REPLY_TIMEOUT = 15000;
/** While unpaired, say hello again after these delays (then the last one), to notice an approval. */
const REHELLO = [2000, 4000, 8000, 15000, 30000];
/** localStorage key prefix of the pairing token (one per agent URL). */
const TOKEN_KEY = 'posagent.token ';

/**
 * An error reply of the agent, or a local failure: code "disconnected",
 * "closed", "timeout", or "agent_unreachable" (connect's timeout passed
 * without the agent answering: it is not running, or not at this URL).
 */
export class PosAgentError extends Error {
  constructor(code, message, id) {
    super(message || code);
    this.name = 'PosAgentError';
    this.code = code;
    this.id = id;
  }
}

function randomPrefix() {
  const a = new Uint8Array(6);
  (globalThis.crypto || {}).getRandomValues?.(a);
  return Array.from(a, (b) => (b % 36).toString(36)).join('') || Math.random().toString(36).slice(2, 8);
}

function defaultStorage() {
  try {
    const s = globalThis.localStorage;
    const k = '__posagent_probe';
    s.setItem(k, '1');
    s.removeItem(k);
    return s;
  } catch {
    return null; // private mode, sandboxed frame: pair every time
  }
}

export class PosAgent {
  /**
   * @param {object} [options]
   * @param {string} [options.url] the agent's websocket URL (default ws://127.0.0.1:7380/v1/ws)
   * @param {Storage|null} [options.storage] where the pairing token is kept (default localStorage)
   * @param {boolean} [options.autoAck] acknowledge each result once delivered (default true)
   * @param {boolean} [options.reconnect] reconnect after a drop (default true)
   * @param {boolean} [options.statusOnConnect] ask status after each welcome, replaying unacknowledged results (default true)
   * @param {boolean} [options.retryPairing] while unpaired, say hello again now and then, so that an approval
   *   (`posagent pair`, the cashier's dialog) is noticed without a reload (default true)
   * @param {typeof WebSocket} [options.WebSocket] a WebSocket implementation (tests, Node)
   */
  constructor(options = {}) {
    this.url = options.url || DEFAULT_URL;
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.autoAck = options.autoAck !== false;
    this.reconnect = options.reconnect !== false;
    this.statusOnConnect = options.statusOnConnect !== false;
    this.retryPairing = options.retryPairing !== false;
    this._rehelloTimer = null;
    this._rehelloAttempt = 0;
    this._WS = options.WebSocket || globalThis.WebSocket;
    this._handlers = new Map();
    this._pending = new Map(); // request id -> {kind, resolve, reject, timer, started, hooks}
    this._cancels = new Map(); // sale id -> {resolve, reject}
    this._prefix = randomPrefix();
    this._seq = 0;
    this._ws = null;
    this._state = 'idle';
    this._attempt = 0;
    this._timer = null;
    this._closed = false;
    this._ready = null;
    this._helloToken = null;
    /** The agent block of the last welcome. */
    this.agent = null;
    /** The readers as last reported. */
    this.readers = [];
    /** The origin the agent knows this page as. */
    this.origin = null;
  }

  /** idle | connecting | pairing | open | unpaired | closed */
  get state() {
    return this._state;
  }

  /**
   * Listen to an event: state, welcome, paired, reader, status, prompt,
   * card, accepted, result, error, message. Returns a function that stops listening.
   */
  on(event, fn) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(fn);
    return () => this._handlers.get(event)?.delete(fn);
  }

  _emit(event, arg) {
    for (const fn of this._handlers.get(event) || []) {
      try {
        fn(arg);
      } catch (e) {
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  _setState(s) {
    if (this._state === s) return;
    this._state = s;
    this._emit('state', s);
  }

  get _tokenKey() {
    return TOKEN_KEY + this.url;
  }

  /** The stored pairing token for this agent URL, if any. */
  get token() {
    try {
      return this.storage?.getItem(this._tokenKey) || null;
    } catch {
      return null;
    }
  }

  set token(t) {
    try {
      if (t) this.storage?.setItem(this._tokenKey, t);
      else this.storage?.removeItem(this._tokenKey);
    } catch {
      /* storage full or denied: the page pairs again next time */
    }
  }

  /** A new request id, unique across reloads. */
  nextId(kind = 'r') {
    this._seq += 1;
    return `${kind}-${this._prefix}-${this._seq}`;
  }

  /**
   * Connect and say hello. Resolves with the welcome message; rejects with
   * not_paired when the agent refuses to pair, and with agent_unreachable
   * when `timeout` ms pass without a welcome while the agent cannot be
   * reached (not running, another port). Keeps reconnecting after drops, and
   * after a rejection, until close(): the welcome event says when it is back.
   * @param {{timeout?: number}} [options] timeout in ms (default 0: wait as long as it takes)
   */
  connect({ timeout = 0 } = {}) {
    this._closed = false;
    if (!this._ready) this._ready = this._deferred();
    const ready = this._ready;
    if (!this._ws) this._open();
    if (timeout > 0) {
      const timer = setTimeout(() => {
        // Only an agent that is not there: a page waiting for the
        // cashier to approve it is reachable, and waits on.
        if (this._ready !== ready || this._ws?.readyState === 1) return;
        this._ready = null;
        ready.reject(new PosAgentError('agent_unreachable',
          `posagent is not answering at ${this.url} after ${timeout} ms: is it running? (start it, e.g. posagent demo)`));
      }, timeout);
      ready.promise.then(() => clearTimeout(timer), () => clearTimeout(timer));
    }
    return ready.promise;
  }

  _deferred() {
    const d = {};
    d.promise = new Promise((resolve, reject) => {
      d.resolve = resolve;
      d.reject = reject;
    });
    d.promise.catch(() => {}); // reported through events as well
    return d;
  }

  _open() {
    clearTimeout(this._timer);
    this._setState('connecting');
    let ws;
    try {
      ws = new this._WS(this.url);
    } catch (e) {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      this._attempt = 0;
      this.hello();
    };
    ws.onmessage = (ev) => this._onMessage(ev.data);
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      clearTimeout(this._rehelloTimer);
      if (ev && ev.code === 1008 && /revoked/.test(ev.reason || '')) this.token = null;
      this._failPending(new PosAgentError('disconnected', 'the connection to the agent was lost'), false);
      if (this._closed || !this.reconnect) {
        this._setState('closed');
        return;
      }
      this._scheduleReconnect();
    };
    ws.onerror = () => {}; // onclose follows
  }

  _scheduleReconnect() {
    this._setState('connecting');
    const base = BACKOFF[Math.min(this._attempt, BACKOFF.length - 1)];
    this._attempt += 1;
    const delay = base / 2 + Math.random() * base; // jitter: tabs do not reconnect in step
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._open(), delay);
  }

  /** Close for good (no reconnect). Pending sales are rejected locally; their results stay with the agent. */
  close() {
    this._closed = true;
    clearTimeout(this._timer);
    clearTimeout(this._rehelloTimer);
    const ws = this._ws;
    this._ws = null;
    this._failPending(new PosAgentError('closed', 'the agent connection was closed'), true);
    if (ws) ws.close(1000, 'bye');
    this._setState('closed');
  }

  /**
   * Say hello again, e.g. after a refusal once the cashier was asked to
   * approve this page. Uses the stored token when there is one.
   */
  hello() {
    clearTimeout(this._rehelloTimer);
    const id = this.nextId('hello');
    const token = this.token;
    this._helloToken = token;
    this._helloId = id;
    if (!token) this._setState('pairing');
    this._raw({ type: 'hello', id, ...(token ? { token } : {}) });
    return this.connect();
  }

  _raw(msg) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  _request(kind, msg, { timeout = REPLY_TIMEOUT, hooks } = {}) {
    const id = msg.id || this.nextId(kind[0]);
    msg.id = id;
    let entry;
    const promise = new Promise((resolve, reject) => {
      entry = { kind, resolve, reject, hooks: hooks || {}, started: false, timer: null };
    });
    promise.id = id;
    if (this._state !== 'open' || !this._raw(msg)) {
      entry.reject(new PosAgentError('disconnected', 'not connected to the agent', id));
      return promise;
    }
    if (timeout) {
      entry.timer = setTimeout(() => {
        this._pending.delete(id);
        entry.reject(new PosAgentError('timeout', `no reply to ${kind} in ${timeout} ms`, id));
      }, timeout);
    }
    this._pending.set(id, entry);
    return promise;
  }

  _failPending(err, all) {
    for (const [id, p] of this._pending) {
      // Sales and follow-ups survive a reconnect: status replays their
      // results. Everything else is answered by this connection only.
      if (!all && (p.kind === 'sale' || p.kind === 'followup')) continue;
      clearTimeout(p.timer);
      this._pending.delete(id);
      p.reject(new PosAgentError(err.code, err.message, id));
    }
    for (const [id, c] of this._cancels) {
      this._cancels.delete(id);
      c.reject(new PosAgentError(err.code, err.message, id));
    }
    if (all && this._ready) {
      this._ready.reject(err);
      this._ready = null;
    }
  }

  /**
   * Start a sale. Resolves with the result message whatever the outcome
   * (approved, declined, cancelled, error, unknown); rejects when the agent
   * refuses the request (busy, no_reader, invalid_request, …). The returned
   * promise has an `id` for cancel().
   * @param {object} sale {amount, action?, orderNum?, transactionApiId?, tipAmount?, description?, reader?,
   *   cardToken?, receiptEmail?, receiptPhone?, authCode? (force), billingZip?, billingStreet? (avsonly),
   *   subtotalAmount?, surchargeAmount?, tax?, checkinDate?, checkoutDate?, roomRate?}
   * @param {object} [hooks] {onPrompt, onCard, onAccepted, onWarning}
   */
  sale(sale, hooks) {
    const msg = {
      type: 'sale',
      amount: String(sale.amount),
      action: sale.action || 'sale',
    };
    if (sale.orderNum) msg.order_num = String(sale.orderNum);
    if (sale.transactionApiId) msg.transaction_api_id = sale.transactionApiId;
    if (sale.tipAmount) msg.tip_amount = String(sale.tipAmount);
    if (sale.description) msg.description = String(sale.description);
    if (sale.reader) msg.reader = sale.reader;
    if (sale.cardToken) msg.card_token = String(sale.cardToken);
    if (sale.receiptEmail) msg.receipt_email = String(sale.receiptEmail);
    if (sale.receiptPhone) msg.receipt_phone = String(sale.receiptPhone);
    if (sale.authCode) msg.auth_code = String(sale.authCode);
    if (sale.billingZip) msg.billing_zip = String(sale.billingZip);
    if (sale.billingStreet) msg.billing_street = String(sale.billingStreet);
    if (sale.id) msg.id = sale.id;
    // Fields a merchant account's settings may require (protocol.md,
    // "Merchant settings"); a zero amount is sent ("0.00" is a value).
    for (const [k, f] of [['subtotalAmount', 'subtotal_amount'], ['surchargeAmount', 'surcharge_amount'],
      ['tax', 'tax'], ['checkinDate', 'checkin_date'], ['checkoutDate', 'checkout_date'], ['roomRate', 'room_rate']]) {
      if (sale[k] !== undefined && sale[k] !== null && sale[k] !== '') msg[f] = String(sale[k]);
    }
    return this._request('sale', msg, { timeout: 0, hooks });
  }

  /** An authorization only (complete it later with complete()). */
  authOnly(sale, hooks) {
    return this.sale({ ...sale, action: 'authonly' }, hooks);
  }

  /**
   * A sale the card issuer approved on the phone: {amount, authCode, ...}
   * with the 6-character code it read out; the card is read as for a sale.
   */
  force(sale, hooks) {
    return this.sale({ ...sale, action: 'force' }, hooks);
  }

  /**
   * Check a card and its billing address without charging it (avsonly):
   * {billingZip, billingStreet?, ...}. The result's transaction.avs says
   * how the address matched.
   */
  verifyCard(sale, hooks) {
    return this.sale({ ...sale, amount: '0.00', tipAmount: undefined, action: 'avsonly' }, hooks);
  }

  _followUp(type, { transactionId, amount, transactionApiId, id }) {
    const msg = { type, transaction_id: String(transactionId || '') };
    if (amount !== undefined && amount !== null && amount !== '') msg.amount = String(amount);
    if (transactionApiId) msg.transaction_api_id = transactionApiId;
    if (id) msg.id = id;
    return this._request('followup', msg, { timeout: 0 });
  }

  /** Refund an earlier transaction: {transactionId, amount}. */
  refund(o) {
    return this._followUp('refund', o);
  }

  /** Void an earlier transaction: {transactionId}. */
  void(o) {
    return this._followUp('void', o);
  }

  /** Complete an authorization: {transactionId, amount?}. */
  complete(o) {
    return this._followUp('complete', o);
  }

  /** Raise an authorization to a new total: {transactionId, amount}. */
  authIncrement(o) {
    return this._followUp('authincrement', o);
  }

  /** Reduce an authorization or sale to a new total: {transactionId, amount}. */
  partialReversal(o) {
    return this._followUp('partialreversal', o);
  }

  /**
   * Cancel a sale still waiting for a card. Resolves with its result
   * (outcome cancelled); rejects with too_late once the card was sent.
   * Cancelling again before the answer returns the same promise.
   * @param {string} saleId the id of the sale's promise
   */
  cancel(saleId) {
    // A second cancel of the same sale while the first is unanswered gets
    // the first's promise: one request, and every caller is answered.
    const pending = this._cancels.get(saleId);
    if (pending) return pending.promise;
    const entry = {};
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    if (!this._raw({ type: 'cancel', id: saleId })) {
      entry.reject(new PosAgentError('disconnected', 'not connected to the agent', saleId));
      return entry.promise;
    }
    this._cancels.set(saleId, entry);
    return entry.promise;
  }

  /**
   * Ask for the readers, the sales in progress and the results not yet
   * acknowledged (which follow as result events with replay: true).
   * @param {{transactionApiId?: string}} [o] also look one transaction up
   */
  status(o = {}) {
    const msg = { type: 'status' };
    if (o.transactionApiId) msg.transaction_api_id = o.transactionApiId;
    return this._request('status', msg);
  }

  /**
   * Read a sandbox test card on the simulated reader (posagent demo only),
   * or stage a scenario: 'unplug' (the reader's cable is pulled; it comes
   * back in a few seconds), 'bad_read', 'clear_track_data', or
   * 'gateway_timeout' (the sandbox commits the sale, its answer is lost).
   * @param {{card?: string, entryMode?: 'S'|'C'|'P'|'F', reader?: string, scenario?: string}} o
   */
  simulate(o) {
    const msg = { type: 'simulate', card: String(o.card || ''), entry_mode: o.entryMode || 'S' };
    if (o.reader) msg.reader = o.reader;
    if (o.scenario) msg.scenario = o.scenario;
    return this._request('simulate', msg);
  }

  /** Acknowledge a result so that it is not replayed again. */
  ack(transactionApiId) {
    return this._request('ack', { type: 'ack', transaction_api_id: transactionApiId });
  }

  _onMessage(data) {
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    this._emit('message', m);
    const p = m.id ? this._pending.get(m.id) : undefined;
    switch (m.type) {
      case 'welcome':
        clearTimeout(this._rehelloTimer);
        this._rehelloAttempt = 0;
        this.agent = m.agent;
        this.readers = m.readers || [];
        this.origin = m.origin;
        this._setState('open');
        this._emit('welcome', m);
        if (this._ready) {
          this._ready.resolve(m);
        } else {
          this._ready = this._deferred();
          this._ready.resolve(m);
        }
        if (this.statusOnConnect) this.status().catch(() => {});
        return;
      case 'paired':
        this.token = m.token;
        this._emit('paired', m);
        return;
      case 'reader': {
        const i = this.readers.findIndex((r) => r.id === m.reader.id);
        if (m.event === 'detached') {
          if (i >= 0) this.readers.splice(i, 1);
        } else if (i >= 0) this.readers[i] = m.reader;
        else this.readers.push(m.reader);
        this._emit('reader', m);
        return;
      }
      case 'accepted':
        if (p) {
          p.started = true;
          p.transactionApiId = m.transaction_api_id;
          p.hooks.onAccepted?.(m);
        }
        this._emit('accepted', m);
        return;
      case 'prompt':
        if (p) {
          p.started = true;
          p.hooks.onPrompt?.(m);
        }
        this._emit('prompt', m);
        return;
      case 'card':
        if (p) {
          p.started = true;
          p.hooks.onCard?.(m);
        }
        this._emit('card', m);
        return;
      case 'result':
        this._emit('result', m);
        if (p) {
          this._pending.delete(m.id);
          p.resolve(m);
        }
        if (m.id && this._cancels.has(m.id)) {
          this._cancels.get(m.id).resolve(m);
          this._cancels.delete(m.id);
        }
        if (this.autoAck && m.transaction_api_id) this.ack(m.transaction_api_id).catch(() => {});
        return;
      case 'status':
        if (m.readers) this.readers = m.readers;
        this._emit('status', m);
        if (p) this._settle(m);
        return;
      case 'simulated':
      case 'acked':
        if (p) this._settle(m);
        return;
      case 'error':
        this._onError(m, p);
        return;
      default:
        // A newer agent's message: ignore it (forward compatibility).
    }
  }

  _settle(m) {
    const p = this._pending.get(m.id);
    clearTimeout(p.timer);
    this._pending.delete(m.id);
    p.resolve(m);
  }

  _onError(m, p) {
    const err = new PosAgentError(m.code, m.message, m.id);
    err.transactionApiId = m.transaction_api_id;
    if (m.id && m.id === this._helloId && m.code === 'not_paired') {
      if (this._helloToken) {
        // The stored token is no good (revoked, or a one-time approval
        // before a restart): forget it and ask to pair.
        this.token = null;
        this.hello();
        return;
      }
      this._setState('unpaired');
      this._emit('error', err);
      if (this._ready) {
        this._ready.reject(err);
        this._ready = null;
      }
      if (this.retryPairing) {
        // The approval comes from elsewhere (posagent pair, the cashier's
        // dialog); the agent does not tell this page: ask again.
        const delay = REHELLO[Math.min(this._rehelloAttempt, REHELLO.length - 1)];
        this._rehelloAttempt += 1;
        clearTimeout(this._rehelloTimer);
        this._rehelloTimer = setTimeout(() => {
          if (this._state === 'unpaired' && this._ws) this.hello();
        }, delay);
      }
      return;
    }
    if (m.id && this._cancels.has(m.id)) {
      // The reply to a cancel (too_late, not_found), not to the sale.
      this._cancels.get(m.id).reject(err);
      this._cancels.delete(m.id);
      return;
    }
    if (p && !p.started) {
      clearTimeout(p.timer);
      this._pending.delete(m.id);
      p.reject(err);
      return;
    }
    // A warning about a running sale (e.g. clear_track_data: the sale
    // goes on and the reader asks for another card) or an unsolicited error.
    p?.hooks.onWarning?.(err);
    this._emit('error', err);
  }
}

/** Masks a card number for display: first 6 and last 4 digits. */
export function maskPAN(pan) {
  const d = String(pan).replace(/\D/g, '');
  if (d.length < 12) return '*'.repeat(d.length);
  return d.slice(0, 6) + '*'.repeat(d.length - 10) + d.slice(-4);
}

export default PosAgent;
