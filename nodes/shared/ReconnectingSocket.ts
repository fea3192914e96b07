import WebSocket from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';

import { backoffDelayMs } from './backoff';
import type { BackoffSteps } from './backoff';
import { globalAgentFor, parseRetryAfter } from './http';
import type { Redactor } from './redact';
import { redactedMessage } from './redact';

/**
 * The one WebSocket client every trigger of this package uses. It knows nothing of any service:
 * it connects (URL or header auth), parses JSON frames, keeps the connection alive, reconnects
 * with capped exponential backoff and jitter, calls its listeners after every (re)connection so
 * they can subscribe again and reconcile what they missed, and stops for good, with one clear
 * error, when the service refuses the credentials. `close()` cancels every timer, listener and
 * socket at once.
 *
 * Listeners are a set: SocketPool hands one socket to every trigger that shares a key.
 */

export interface SocketLogger {
	debug(message: string): void;
	info(message: string): void;
	warn(message: string): void;
	error(message: string): void;
}

export interface KeepAliveOptions {
	/** How often to probe the connection. */
	intervalMs: number;
	/** The connection is dead when nothing at all arrives this long after a probe. */
	timeoutMs: number;
	/** Application-level ping frame (e.g. Kurier's `{type:"ping"}`); omitted: a WebSocket protocol ping. */
	pingFrame?: unknown;
}

export interface BackoffOptions extends BackoffSteps {
	/** A connection that stayed up this long resets the backoff to `initialMs`. */
	stableAfterMs: number;
}

/** Where an attempt connects, as a resolver hands it out (e.g. after registering for a key). */
export interface SocketTarget {
	url: string;
	/** Added to the socket's own `headers`. */
	headers?: Record<string, string>;
}

export interface ReconnectingSocketOptions {
	/**
	 * Resolved before every attempt, so a service can hand out a fresh URL (and headers). A resolver
	 * that fails on the first attempt rejects `start()` with its own error, so the caller can tell a
	 * refused credential from an unreachable service; later it counts as a transient failure.
	 */
	url: string | (() => string | SocketTarget | Promise<string | SocketTarget>);
	headers?: Record<string, string>;
	redact: Redactor;
	logger?: SocketLogger;
	keepAlive?: KeepAliveOptions;
	backoff?: Partial<BackoffOptions>;
	/** The connection counts as established when this frame arrives (default: at the WebSocket open). */
	isReadyFrame?: (frame: unknown) => boolean;
	/** Limit for the handshake plus the ready frame. */
	connectTimeoutMs?: number;
	/** Close codes that mean "your credentials were refused": no reconnect, one fatal error. */
	authRefusalCloseCodes?: readonly number[];
	/**
	 * Per service: whether this close means "credentials refused" (no reconnect, one fatal error).
	 * Replaces the `authRefusalCloseCodes` check when given, e.g. for a service that uses one code
	 * for a refused key and for limits and tells them apart by the reason (Kurier's 1008).
	 */
	isFatalClose?: (code: number, reason: string) => boolean;
	/**
	 * Per service: whether this close is the server retiring a healthy connection (its maximum
	 * connection lifetime), not a fault. A connection that had been up at least `stableAfterMs` and
	 * closes so is replaced at once, without backoff, so the gap in which frames go nowhere stays a
	 * round trip long; a younger one takes the usual backoff, so a server that closes every connection
	 * this way cannot cause a reconnect loop.
	 */
	isPlannedClose?: (code: number, reason: string) => boolean;
	random?: () => number;
}

export interface ConnectionHandle {
	/** True after the first connection of this socket. */
	reconnected: boolean;
	send(frame: unknown): boolean;
}

export interface SocketListener {
	/** After every (re)connection: subscribe again and reconcile what was missed. */
	onReady?(connection: ConnectionHandle): void | Promise<void>;
	onFrame?(frame: unknown): void;
	/** A text frame that is not JSON (already logged and skipped); e.g. a plain-text refusal. */
	onUnparsedFrame?(text: string): void;
	/** A reconnect will follow (unless `willReconnect` is false). */
	onDisconnect?(info: DisconnectInfo): void;
	/** A retry cannot fix this (credentials refused, or a listener called `fail`). The socket is closed. */
	onFatal?(error: SocketFatalError): void;
}

export interface DisconnectInfo {
	code: number | null;
	reason: string;
	willReconnect: boolean;
	delayMs: number | null;
}

export type SocketFailureKind = 'auth' | 'refused' | 'unreachable';

/** Raised once, when retrying cannot help. Its message is redacted. */
export class SocketFatalError extends Error {
	constructor(
		message: string,
		readonly kind: SocketFailureKind,
		readonly httpStatus: number | null = null,
		readonly closeCode: number | null = null,
	) {
		super(message);
		this.name = 'SocketFatalError';
	}
}

export type SocketState = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

export interface SocketStats {
	connections: number;
	reconnects: number;
	malformedFrames: number;
	framesReceived: number;
}

const DEFAULT_BACKOFF: BackoffOptions = {
	initialMs: 500,
	maxMs: 30_000,
	factor: 2,
	stableAfterMs: 10_000,
};

// 1008 is what Kurier documents for a refused key; the 44xx range is the common private equivalent.
const DEFAULT_AUTH_REFUSAL_CODES = [1008, 4001, 4003, 4401, 4403];

/** However short `stableAfterMs` is set, a retired connection is replaced at once only after this long. */
const PLANNED_CLOSE_MIN_AGE_MS = 1_000;

/** How long `close()` waits for the server's close frame before cutting the TCP connection. */
const CLOSE_GRACE_MS = 1_000;

/**
 * What a lost connection (or failed attempt) means, decided in one place:
 * - `fatal`: the service refused the credentials; no retry can help, the socket stops.
 * - `planned`: the server retired a healthy connection (its lifetime); replaced at once.
 * - `transient`: anything else; reconnect after the backoff.
 */
type DropVerdict = { kind: 'fatal'; error: SocketFatalError } | { kind: 'planned' } | { kind: 'transient' };

interface AttemptOutcome {
	closeCode: number | null;
	reason: string;
	httpStatus: number | null;
	retryAfterMs: number | null;
	error: Error | null;
}

export class ReconnectingSocket {
	private readonly options: ReconnectingSocketOptions;
	private readonly backoff: BackoffOptions;
	private readonly listeners = new Set<SocketListener>();
	private readonly logger: SocketLogger | undefined;

	private ws: WebSocket | null = null;
	private currentState: SocketState = 'idle';
	private failedAttempts = 0;
	private readyAt: number | null = null;
	private serverRetryAfterMs: number | null = null;
	private redactedUrl = '';

	private reconnectTimer: NodeJS.Timeout | null = null;
	private connectTimer: NodeJS.Timeout | null = null;
	private keepAliveTimer: NodeJS.Timeout | null = null;
	private keepAliveDeadline: NodeJS.Timeout | null = null;

	private firstConnection: { resolve(): void; reject(error: Error): void } | null = null;
	private closePromise: Promise<void> | null = null;

	readonly stats: SocketStats = { connections: 0, reconnects: 0, malformedFrames: 0, framesReceived: 0 };

	constructor(options: ReconnectingSocketOptions) {
		this.options = options;
		this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
		this.logger = options.logger;
	}

	get state(): SocketState {
		return this.currentState;
	}

	addListener(listener: SocketListener): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/**
	 * Connects. Resolves once the first connection is ready and every listener's `onReady` has
	 * finished (or `close()` was called meanwhile); rejects (and closes) with the first attempt's
	 * failure. The socket reports; whether a failed start fails an activation or is tried again
	 * later is the caller's decision (see `startPolicyFor` in n8n.ts). Only once connected does the
	 * socket reconnect by itself.
	 */
	start(): Promise<void> {
		if (this.currentState !== 'idle') throw new Error('ReconnectingSocket.start() may be called once');
		return new Promise<void>((resolve, reject) => {
			this.firstConnection = { resolve, reject };
			void this.connect();
		});
	}

	/** Sends a JSON frame on the open connection; false when there is none (it will resubscribe on ready). */
	send(frame: unknown): boolean {
		if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) return false;
		this.ws.send(JSON.stringify(frame));
		return true;
	}

	/** The service asked us to wait (e.g. a `retryAfterSeconds` field): the next reconnect waits at least this long. */
	retryAfter(delayMs: number): void {
		this.serverRetryAfterMs = Math.max(this.serverRetryAfterMs ?? 0, delayMs);
	}

	/** Drops the current connection, so it reconnects (the keep-alive saw the service go quiet). */
	private reconnectNow(reason: string): void {
		if (this.ws === null) return;
		this.logger?.debug(`Reconnecting to ${this.redactedUrl}: ${reason}`);
		this.ws.terminate();
	}

	/** Stops for good with a fatal error, for what a listener knows no retry can fix. */
	fail(error: SocketFatalError): void {
		if (this.currentState === 'closed') return;
		this.logger?.error(error.message);
		const first = this.firstConnection;
		this.firstConnection = null;
		void this.close();
		if (first) first.reject(error);
		else for (const listener of [...this.listeners]) listener.onFatal?.(error);
	}

	/** Cancels every timer, listener and socket. Idempotent; never throws. */
	close(): Promise<void> {
		if (this.closePromise) return this.closePromise;
		this.currentState = 'closed';
		this.clearAllTimers();
		const ws = this.ws;
		this.ws = null;
		// Closed on purpose while starting (deactivated, or a listener already has all it needs).
		this.firstConnection?.resolve();
		this.firstConnection = null;
		this.closePromise = ws === null ? Promise.resolve() : closeWebSocket(ws);
		return this.closePromise;
	}

	private async connect(): Promise<void> {
		if (this.currentState === 'closed') return;
		this.currentState = 'connecting';
		let target: string | SocketTarget;
		try {
			target = typeof this.options.url === 'string' ? this.options.url : await this.options.url();
		} catch (error) {
			if (this.isClosed()) return;
			if (this.firstConnection) {
				// Nothing was reached yet: the resolver's own error says best why (refused, or unreachable).
				const first = this.firstConnection;
				this.firstConnection = null;
				void this.close();
				first.reject(toError(error));
				return;
			}
			this.finishAttempt({ closeCode: null, reason: '', httpStatus: null, retryAfterMs: null, error: toError(error) });
			return;
		}
		if (this.isClosed()) return;
		const url = typeof target === 'string' ? target : target.url;
		const headers = typeof target === 'string' || target.headers === undefined ? this.options.headers : { ...this.options.headers, ...target.headers };
		this.redactedUrl = this.options.redact(url);
		this.logger?.debug(`Connecting to ${this.redactedUrl}`);

		let ws: WebSocket;
		try {
			ws = new WebSocket(url, {
				headers,
				handshakeTimeout: this.connectTimeoutMs(),
				// Through Node's global agent, where n8n installs its proxy agents (ws skips it otherwise).
				agent: globalAgentFor(url),
				// Frames are small JSON: a zlib context per socket would cost memory for nothing.
				perMessageDeflate: false,
			});
		} catch (error) {
			// Malformed URL: retrying cannot fix it.
			this.fail(new SocketFatalError(`Invalid WebSocket URL ${this.redactedUrl}: ${redactedMessage(error, this.options.redact)}`, 'refused'));
			return;
		}
		this.ws = ws;
		this.wireAttempt(ws);
	}

	private wireAttempt(ws: WebSocket): void {
		const outcome: AttemptOutcome = { closeCode: null, reason: '', httpStatus: null, retryAfterMs: null, error: null };
		let ready = false;

		this.connectTimer = setTimeout(() => {
			outcome.error = new Error(`no answer within ${this.connectTimeoutMs()} ms`);
			ws.terminate();
		}, this.connectTimeoutMs());

		const becomeReady = () => {
			if (ready) return;
			ready = true;
			this.clearTimer('connectTimer');
			void this.onReady();
		};

		ws.on('unexpected-response', (_request: ClientRequest, response: IncomingMessage) => {
			outcome.httpStatus = response.statusCode ?? null;
			outcome.retryAfterMs = parseRetryAfter(response.headers['retry-after']);
			response.resume();
			// Aborting the handshake makes `ws` emit 'close', which decides what happens next.
			ws.terminate();
		});
		ws.on('open', () => {
			this.stats.connections += 1;
			if (!this.options.isReadyFrame) becomeReady();
		});
		ws.on('message', (data: WebSocket.RawData) => {
			this.noteActivity();
			// The per-frame hot path: no wrapper objects, closures or listener copies per frame.
			const text = decodeFrame(data);
			this.stats.framesReceived += 1;
			let frame: unknown;
			try {
				frame = JSON.parse(text);
			} catch {
				this.skipUnparsed(text);
				return;
			}
			if (!ready && this.options.isReadyFrame?.(frame)) becomeReady();
			this.deliverFrame(frame);
		});
		ws.on('pong', () => this.noteActivity());
		ws.on('error', (error: Error) => {
			outcome.error = outcome.error ?? error;
		});
		ws.on('close', (code: number, reason: Buffer) => {
			if (this.ws !== ws) return; // closed by close(): nothing more to do
			this.ws = null;
			outcome.closeCode = outcome.httpStatus === null && code !== 1006 ? code : null;
			outcome.reason = reason.toString();
			this.finishAttempt(outcome, ready);
		});
	}

	private async onReady(): Promise<void> {
		this.readyAt = Date.now();
		this.currentState = 'open';
		const reconnected = this.firstConnection === null;
		if (reconnected) this.stats.reconnects += 1;
		this.logger?.debug(`Connected to ${this.redactedUrl}`);
		this.startKeepAlive();
		const connection: ConnectionHandle = { reconnected, send: (frame) => this.send(frame) };
		const results = await Promise.allSettled([...this.listeners].map(async (l) => await l.onReady?.(connection)));
		// Closed meanwhile (deactivated, or a listener called fail()): whoever closed it has reported.
		if (this.isClosed()) return;
		const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
		const first = this.firstConnection;
		this.firstConnection = null;
		if (first) {
			if (failure) {
				void this.close();
				first.reject(toError(failure.reason));
			} else {
				first.resolve();
			}
		} else if (failure) {
			this.logger?.warn(`After reconnecting to ${this.redactedUrl}: ${redactedMessage(failure.reason, this.options.redact)}`);
		}
	}

	private finishAttempt(outcome: AttemptOutcome, wasReady = false): void {
		this.clearConnectionTimers();
		if (this.currentState === 'closed') return;
		const description = this.describe(outcome);
		if (this.firstConnection) {
			// The first attempt failed: report it; the caller decides whether to try again.
			this.fail(this.classifyFatal(outcome) ?? new SocketFatalError(`Could not connect to ${this.redactedUrl}: ${description}`, 'unreachable', outcome.httpStatus, outcome.closeCode));
			return;
		}
		const verdict = this.judgeDrop(outcome, wasReady);
		if (verdict.kind === 'fatal') {
			this.fail(verdict.error);
			return;
		}
		if (outcome.retryAfterMs !== null) this.retryAfter(outcome.retryAfterMs);
		let delayMs = 0;
		if (verdict.kind === 'planned') {
			this.logger?.info(`Connection to ${this.redactedUrl} retired by the server (${description}); reconnecting at once`);
		} else {
			delayMs = this.nextDelay();
			this.failedAttempts += 1;
			this.logger?.warn(`Connection to ${this.redactedUrl} lost (${description}); reconnecting in ${delayMs} ms`);
		}
		this.currentState = 'waiting';
		for (const listener of [...this.listeners]) {
			listener.onDisconnect?.({ code: outcome.closeCode, reason: outcome.reason, willReconnect: true, delayMs });
		}
		this.reconnectTimer = setTimeout(() => {
			this.reconnectTimer = null;
			void this.connect();
		}, delayMs);
	}

	/**
	 * Fatal, planned or transient (see DropVerdict). A connection that stayed up `stableAfterMs`
	 * resets the backoff; only such a connection can be a planned retirement, and only when the
	 * server asked for no wait: a server that closes every young connection "at its lifetime"
	 * still meets the backoff, so it cannot cause a reconnect loop.
	 */
	private judgeDrop(outcome: AttemptOutcome, wasReady: boolean): DropVerdict {
		const fatal = this.classifyFatal(outcome);
		if (fatal) return { kind: 'fatal', error: fatal };
		const upForMs = wasReady && this.readyAt !== null ? Date.now() - this.readyAt : -1;
		if (upForMs >= this.backoff.stableAfterMs) this.failedAttempts = 0;
		const retired = outcome.closeCode !== null && (this.options.isPlannedClose?.(outcome.closeCode, outcome.reason) ?? false);
		const oldEnough = upForMs >= Math.max(this.backoff.stableAfterMs, PLANNED_CLOSE_MIN_AGE_MS);
		if (retired && oldEnough && this.serverRetryAfterMs === null && outcome.retryAfterMs === null) return { kind: 'planned' };
		return { kind: 'transient' };
	}

	private classifyFatal(outcome: AttemptOutcome): SocketFatalError | null {
		const codes = this.options.authRefusalCloseCodes ?? DEFAULT_AUTH_REFUSAL_CODES;
		if (outcome.httpStatus === 401 || outcome.httpStatus === 403) {
			return new SocketFatalError(
				`The service refused the credentials (HTTP ${outcome.httpStatus} on ${this.redactedUrl}). Check the API key in the credential.`,
				'auth',
				outcome.httpStatus,
			);
		}
		const isFatalClose = this.options.isFatalClose ?? ((code: number) => codes.includes(code));
		if (outcome.closeCode !== null && isFatalClose(outcome.closeCode, outcome.reason)) {
			const reason = outcome.reason ? `: ${this.options.redact(outcome.reason)}` : '';
			return new SocketFatalError(
				`The service refused the credentials (close code ${outcome.closeCode}${reason}). Check the API key in the credential.`,
				'auth',
				null,
				outcome.closeCode,
			);
		}
		return null;
	}

	private describe(outcome: AttemptOutcome): string {
		if (outcome.httpStatus !== null) return `HTTP ${outcome.httpStatus} on upgrade`;
		if (outcome.error) return redactedMessage(outcome.error, this.options.redact);
		if (outcome.closeCode !== null) {
			return `closed with code ${outcome.closeCode}${outcome.reason ? ` (${this.options.redact(outcome.reason)})` : ''}`;
		}
		return 'connection dropped';
	}

	private nextDelay(): number {
		const random = this.options.random ?? Math.random;
		const jittered = backoffDelayMs(this.backoff, this.failedAttempts, random);
		const serverDelay = this.serverRetryAfterMs;
		this.serverRetryAfterMs = null;
		return serverDelay === null ? jittered : Math.max(jittered, serverDelay);
	}

	private skipUnparsed(text: string): void {
		this.stats.malformedFrames += 1;
		const excerpt = this.options.redact(text.length > 120 ? `${text.slice(0, 120)}…` : text);
		this.logger?.warn(`Skipped a frame that is not JSON from ${this.redactedUrl}: ${JSON.stringify(excerpt)}`);
		for (const listener of this.listeners) {
			try {
				listener.onUnparsedFrame?.(text);
			} catch (error) {
				this.reportHandlerFailure(error);
			}
		}
	}

	/**
	 * Every listener gets the frame. The set is walked as it is: a listener that leaves meanwhile is
	 * skipped, and one that joins may see this frame too (it filters what is its own anyway).
	 */
	private deliverFrame(frame: unknown): void {
		for (const listener of this.listeners) {
			if (listener.onFrame === undefined) continue;
			try {
				listener.onFrame(frame);
			} catch (error) {
				this.reportHandlerFailure(error);
			}
		}
	}

	/** One listener's bug must not take the connection (or the other listeners) down. */
	private reportHandlerFailure(error: unknown): void {
		this.logger?.error(`A frame handler failed: ${redactedMessage(error, this.options.redact)}`);
	}

	private startKeepAlive(): void {
		const keepAlive = this.options.keepAlive;
		if (!keepAlive) return;
		this.keepAliveTimer = setInterval(() => {
			const ws = this.ws;
			if (ws === null || ws.readyState !== WebSocket.OPEN || this.keepAliveDeadline !== null) return;
			if (keepAlive.pingFrame === undefined) ws.ping();
			else ws.send(JSON.stringify(keepAlive.pingFrame));
			this.keepAliveDeadline = setTimeout(() => {
				this.keepAliveDeadline = null;
				this.reconnectNow(`no answer to keep-alive within ${keepAlive.timeoutMs} ms`);
			}, keepAlive.timeoutMs);
		}, keepAlive.intervalMs);
	}

	private noteActivity(): void {
		this.clearTimer('keepAliveDeadline');
	}

	private isClosed(): boolean {
		return this.currentState === 'closed';
	}

	private connectTimeoutMs(): number {
		return this.options.connectTimeoutMs ?? 15_000;
	}

	private clearTimer(name: 'reconnectTimer' | 'connectTimer' | 'keepAliveTimer' | 'keepAliveDeadline'): void {
		const timer = this[name];
		if (timer !== null) {
			clearTimeout(timer);
			this[name] = null;
		}
	}

	private clearConnectionTimers(): void {
		this.clearTimer('connectTimer');
		this.clearTimer('keepAliveTimer');
		this.clearTimer('keepAliveDeadline');
	}

	private clearAllTimers(): void {
		this.clearConnectionTimers();
		this.clearTimer('reconnectTimer');
	}
}

/** Closes politely, but never waits more than CLOSE_GRACE_MS for the server. */
function closeWebSocket(ws: WebSocket): Promise<void> {
	ws.removeAllListeners();
	// A late 'error' with no listener would crash the process.
	ws.on('error', () => undefined);
	if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
	if (ws.readyState !== WebSocket.OPEN) {
		ws.terminate();
		return Promise.resolve();
	}
	return new Promise<void>((resolve) => {
		const cutoff = setTimeout(() => {
			ws.terminate();
			resolve();
		}, CLOSE_GRACE_MS);
		ws.once('close', () => {
			clearTimeout(cutoff);
			resolve();
		});
		ws.close(1000, 'Trigger closed');
	});
}

/** A Buffer (ws's default) is decoded in place: Buffer.from(buffer) would copy every frame first. */
function decodeFrame(data: WebSocket.RawData): string {
	if (Buffer.isBuffer(data)) return data.toString('utf8');
	return Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
}

function toError(value: unknown): Error {
	return value instanceof Error ? value : new Error(String(value));
}
