// A typed checkout with @posagent/client and no framework: tsc --strict
// compiles it (tsconfig.json); index.html loads the output with an import
// map that points @posagent/client at the agent's /posagent.js.
import { PosAgent, PosAgentError, type ErrorCode, type ResultMessage } from '@posagent/client';

const params = new URLSearchParams(location.search);
const agentHost = params.get('agent') ?? '127.0.0.1:7380';
const agent = new PosAgent({ url: `ws://${agentHost}/v1/ws` });

function el<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing`);
  return e as T;
}

// What the cashier should do about each refusal; the compiler checks every
// key is a code the agent can send.
const advice: Partial<Record<ErrorCode, string>> = {
  agent_unreachable: 'posagent is not running on this computer: start it',
  busy: 'the reader is busy with another sale: finish or cancel it first',
  no_reader: 'no card reader is connected',
  paused: 'sales are paused at the counter',
};

function explain(e: unknown): string {
  if (e instanceof PosAgentError) return advice[e.code] ?? e.message;
  return String(e);
}

function show(r: ResultMessage): void {
  const out = el<HTMLParagraphElement>('result');
  out.dataset.outcome = r.outcome;
  switch (r.outcome) {
    case 'approved':
      out.textContent = `Approved: ${r.card.brand} ${r.card.masked_pan} (auth ${r.transaction.auth_code})`;
      break;
    case 'declined':
      out.textContent = `Declined: ${r.transaction.verbiage}`;
      break;
    default:
      out.textContent = `${r.outcome}: ${r.message ?? ''}`;
  }
}

async function charge(amount: string): Promise<void> {
  const button = el<HTMLButtonElement>('charge');
  button.disabled = true;
  try {
    show(await agent.sale({ amount }, { onPrompt: (m) => (el('prompt').textContent = m.prompt) }));
  } catch (e) {
    el('result').dataset.outcome = 'error';
    el('result').textContent = explain(e);
  } finally {
    el('prompt').textContent = '';
    button.disabled = agent.state !== 'open';
  }
}

agent.on('state', (s) => {
  el<HTMLButtonElement>('charge').disabled = s !== 'open';
  el('status').textContent = s === 'open' ? 'Ready' : s;
});
el<HTMLFormElement>('pay').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void charge(el<HTMLInputElement>('amount').value);
});
agent.connect({ timeout: 3000 }).catch((e: unknown) => {
  el('status').textContent = explain(e);
});
