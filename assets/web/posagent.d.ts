// Types for posagent.js, the client of the posagent websocket protocol v1.
// The protocol is documented in docs/protocol.md.

export declare const PROTOCOL: 1;
export declare const DEFAULT_URL: string;

export type ConnectionState = 'idle' | 'connecting' | 'pairing' | 'open' | 'unpaired' | 'closed';
export type EntryMode = 'S' | 'C' | 'P' | 'F' | 'K';
export type Outcome = 'approved' | 'declined' | 'cancelled' | 'error' | 'unknown';
/** Errors the agent refuses a request with (docs/protocol.md, Error codes). */
export type RequestErrorCode =
  | 'bad_json' | 'unknown_type' | 'missing_id' | 'invalid_request' | 'too_large' | 'not_paired'
  | 'busy' | 'no_reader' | 'duplicate_id' | 'not_found' | 'too_late' | 'unsupported' | 'journal_error'
  | 'paused' | 'not_simulated' | 'simulate_failed' | 'internal_error' | 'card_data' | 'missing_field';
/** Warnings about a running sale, which goes on (docs/protocol.md, Warning codes). */
export type WarningCode =
  | 'clear_track_data' | 'replayed_read' | 'test_key' | 'bad_read' | 'no_sale'
  | 'unknown_format' | 'malformed' | 'bad_length' | 'bad_lrc' | 'bad_checksum' | 'bad_crc'
  | 'missing_ksn' | 'bad_ksn' | 'no_card_data' | 'reader_status';
/** Failures posagent.js reports itself, without an agent reply. */
export type LocalErrorCode = 'disconnected' | 'closed' | 'timeout' | 'agent_unreachable';
/** Every code a PosAgentError can carry: a misspelled code does not compile. */
export type ErrorCode = RequestErrorCode | WarningCode | LocalErrorCode;

/** What the simulate request can stage instead of a good read (docs/protocol.md#simulate). */
export type SimulateScenario = 'unplug' | 'bad_read' | 'clear_track_data' | 'gateway_timeout';

export type PromptCode = 'present_card' | 'use_chip' | 'retry' | 'processing' | 'remove_card';

export interface AgentInfo {
  name: 'posagent';
  version: string;
  protocol: number;
  /** The simulate request is available (simulated reader + sandbox gateway). */
  simulate: boolean;
}

export interface ReaderInfo {
  id: string;
  model: string;
  serial: string;
  transport: string;
  status: 'ok' | 'broken' | 'detached';
  /** Why a broken reader cannot be used, and the fix. */
  detail: string;
  emv: boolean;
  simulated: boolean;
}

export interface WelcomeMessage {
  type: 'welcome';
  id: string;
  origin: string;
  agent: AgentInfo;
  readers: ReaderInfo[];
}

export interface PairedMessage {
  type: 'paired';
  id: string;
  origin: string;
  token: string;
  scope: 'once' | 'always';
}

export interface AcceptedMessage {
  type: 'accepted';
  id: string;
  transaction_api_id: string;
  action: string;
  amount: string;
}

export interface ReaderMessage {
  type: 'reader';
  event: 'attached' | 'detached' | 'broken';
  reader: ReaderInfo;
}

export interface PromptMessage {
  type: 'prompt';
  id: string;
  transaction_api_id?: string;
  prompt: PromptCode;
}

export interface CardMessage {
  type: 'card';
  id: string;
  transaction_api_id?: string;
  entry_mode: EntryMode;
  brand: string;
  /** First 6 and last 4 digits at most, e.g. "5428********0254". */
  masked_pan: string;
  last_four: string;
}

export interface Transaction {
  id: string;
  status_id: number;
  reason_code_id: number;
  auth_code: string;
  amount: string;
  auth_amount?: string;
  entry_mode_id: string;
  last_four: string;
  verbiage: string;
  /** The gateway's address check (avsonly; a sale sent with a billing
   *  address): GOOD, ZIP, STREET or BAD on Paya Connect. */
  avs?: string;
}

export interface Receipt {
  TC: string;
  TVR: string;
  AID: string;
  TSI: string;
  ATC: string;
  APPLAB: string;
  APPN: string;
  CVM: string;
}

export interface ResultMessage {
  type: 'result';
  id: string;
  transaction_api_id: string;
  action: string;
  outcome: Outcome;
  /** A protocol code: `duplicate_id` on an `error` outcome (the gateway holds another transaction under this transaction_api_id; not approved); `card_declined_after_approval` (a chip card did not accept, at completion, a sale the gateway approved: `declined` when the agent voided the charge, `approved` when the gateway refused the void and the charge stands). */
  code?: string;
  /** With `card_declined_after_approval`: the transaction_api_id of the void the agent made. */
  void_transaction_api_id?: string;
  message?: string;
  /** Delivered again by status because it was not acknowledged. */
  replay?: boolean;
  card: { masked_pan: string; brand: string; last_four: string; entry_mode: string };
  transaction: Transaction;
  receipt: Receipt;
}

export interface ActiveSale {
  id: string;
  transaction_api_id: string;
  action: string;
  amount: string;
  state: string;
}

export interface StatusMessage {
  type: 'status';
  id: string;
  agent: AgentInfo;
  readers: ReaderInfo[];
  active: ActiveSale[];
  /** How many unacknowledged results exist (up to 32 follow as replays). */
  unacked: number;
}

export interface SimulatedMessage {
  type: 'simulated';
  id: string;
  reader: string;
  entry_mode: EntryMode;
}

export interface AckedMessage {
  type: 'acked';
  id: string;
  transaction_api_ids: string[];
}

export interface ErrorMessage {
  type: 'error';
  id?: string;
  code: RequestErrorCode | WarningCode;
  message: string;
  transaction_api_id?: string;
}

export type AgentMessage =
  | WelcomeMessage | PairedMessage | AcceptedMessage | ReaderMessage | PromptMessage | CardMessage
  | ResultMessage | StatusMessage | SimulatedMessage | AckedMessage | ErrorMessage;

export declare class PosAgentError extends Error {
  /** The agent's error code (busy, no_reader, not_paired, …) or a local one (agent_unreachable, disconnected, closed, timeout). */
  code: ErrorCode;
  id?: string;
  transactionApiId?: string;
}

export interface PosAgentOptions {
  url?: string;
  storage?: Storage | null;
  autoAck?: boolean;
  reconnect?: boolean;
  statusOnConnect?: boolean;
  /** While unpaired, say hello again now and then to notice an approval (default true). */
  retryPairing?: boolean;
  WebSocket?: typeof WebSocket;
}

export interface SaleRequest {
  amount: string | number;
  action?: 'sale' | 'authonly' | 'force' | 'avsonly';
  orderNum?: string;
  transactionApiId?: string;
  tipAmount?: string | number;
  description?: string;
  reader?: string;
  /** Charge a stored card (PaidYET card token, Paya Connect account_vault_id)
   *  instead of asking the reader for one; sent as `card_token`. The only
   *  way to sell on PaidYET, whose v3 API takes no reader data. */
  cardToken?: string;
  /** The gateway emails / texts the customer a receipt (PaidYET only);
   *  sent as `receipt_email` / `receipt_phone`. */
  receiptEmail?: string;
  receiptPhone?: string;
  /** force: the 6 letters and digits the card issuer read out on the phone;
   *  sent as `auth_code`. */
  authCode?: string;
  /** avsonly: the billing address to check (zip required); sent as
   *  `billing_zip` / `billing_street`, never echoed. */
  billingZip?: string;
  billingStreet?: string;
  id?: string;
  /**
   * Fields a merchant account's settings may require (protocol.md, "Merchant
   * settings"); a sale lacking one is refused with missing_field before the
   * card. With a breakdown, subtotalAmount + surchargeAmount + tax must equal
   * amount + tipAmount.
   */
  subtotalAmount?: string | number;
  surchargeAmount?: string | number;
  tax?: string | number;
  /** Lodging stay: yyyy-mm-dd dates and the nightly room rate. */
  checkinDate?: string;
  checkoutDate?: string;
  roomRate?: string | number;
}

export interface SaleHooks {
  onAccepted?(m: AcceptedMessage): void;
  onPrompt?(m: PromptMessage): void;
  onCard?(m: CardMessage): void;
  onWarning?(e: PosAgentError): void;
}

export interface FollowUpRequest {
  transactionId: string;
  amount?: string | number;
  transactionApiId?: string;
  id?: string;
}

/** A pending request: a Promise with the request id. */
export type Pending<T> = Promise<T> & { id: string };

export interface PosAgentEvents {
  state: ConnectionState;
  welcome: WelcomeMessage;
  paired: PairedMessage;
  reader: ReaderMessage;
  status: StatusMessage;
  prompt: PromptMessage;
  card: CardMessage;
  accepted: AcceptedMessage;
  result: ResultMessage;
  error: PosAgentError;
  message: AgentMessage;
}

export declare class PosAgent {
  constructor(options?: PosAgentOptions);
  readonly url: string;
  readonly state: ConnectionState;
  agent: AgentInfo | null;
  readers: ReaderInfo[];
  origin: string | null;
  token: string | null;
  on<K extends keyof PosAgentEvents>(event: K, fn: (arg: PosAgentEvents[K]) => void): () => void;
  /** Rejects with agent_unreachable when `timeout` ms pass and the agent cannot be reached; with not_paired when refused. */
  connect(options?: { timeout?: number }): Promise<WelcomeMessage>;
  hello(): Promise<WelcomeMessage>;
  close(): void;
  nextId(kind?: string): string;
  sale(sale: SaleRequest, hooks?: SaleHooks): Pending<ResultMessage>;
  authOnly(sale: Omit<SaleRequest, 'action'>, hooks?: SaleHooks): Pending<ResultMessage>;
  refund(o: FollowUpRequest): Pending<ResultMessage>;
  void(o: FollowUpRequest): Pending<ResultMessage>;
  complete(o: FollowUpRequest): Pending<ResultMessage>;
  /** Raise an authorization to a new total (`amount`). */
  authIncrement(o: FollowUpRequest & { amount: string | number }): Pending<ResultMessage>;
  /** Reduce an authorization or sale to a new total (`amount`). */
  partialReversal(o: FollowUpRequest & { amount: string | number }): Pending<ResultMessage>;
  /** A voice-authorized sale: the card is read, `authCode` goes beside it. */
  force(sale: Omit<SaleRequest, 'action'> & { authCode: string }, hooks?: SaleHooks): Pending<ResultMessage>;
  /** Check a card and its billing address without charging it (avsonly). */
  verifyCard(sale: Omit<SaleRequest, 'action' | 'amount' | 'tipAmount'> & { billingZip: string }, hooks?: SaleHooks): Pending<ResultMessage>;
  cancel(saleId: string): Promise<ResultMessage>;
  status(o?: { transactionApiId?: string }): Pending<StatusMessage>;
  /** A test card on the simulated reader, or a scenario (card not needed for unplug). */
  simulate(o: { card?: string; entryMode?: EntryMode; reader?: string; scenario?: SimulateScenario }): Pending<SimulatedMessage>;
  ack(transactionApiId: string): Pending<AckedMessage>;
}

/** Masks a card number for display: first 6 and last 4 digits. */
export declare function maskPAN(pan: string): string;

export default PosAgent;
