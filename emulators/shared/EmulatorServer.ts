import { createServer, STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { ServerOptions } from 'ws';
import { closeServers, freezeSocket, ignoreError, isFrozen, listenOnLoopback, parseRequestUrl, sendText, writeReply } from './serverKit';
import type { Reply } from './serverKit';

/** The raw socket of an HTTP upgrade, typed the way `ws` expects it. */
type UpgradeSocket = Parameters<WebSocketServer['handleUpgrade']>[1];

/** The counters every emulator keeps the same way; each service adds its own. */
export interface EmulatorServerStats {
	connectionsAccepted: number;
	connectionsRefused: number;
	restRequests: number;
	/** REST requests answered 429 by the per-key rate limit (`restRateLimit`). */
	rateLimited: number;
}

/**
 * A per-key REST rate limit: a token bucket refilled at `perSecond` tokens a second that holds at
 * most `perSecond` (at least 1), so a key may burst that many requests and then keeps that pace.
 */
export interface RestRateLimit {
	perSecond: number;
	/** The `Retry-After` of a 429, in whole seconds; default 1. */
	retryAfterSeconds?: number;
}

/** An HTTP server already bound to loopback, handed from `listen()` to an emulator's constructor. */
export interface ListeningServer {
	server: Server;
	port: number;
}

export interface EmulatorServerOptions {
	/** > 0: `startAutoSteps` repeats every stepMs; 0 or absent: nothing moves on its own. */
	stepMs?: number;
	/** For the WebSocket server; it is always attached to the HTTP server by hand (`noServer`). */
	webSocket?: Omit<ServerOptions, 'noServer' | 'server' | 'port'>;
	/** Absent: no rate limit (see `setRestRateLimit`). */
	restRateLimit?: RestRateLimit;
}

interface TokenBucket {
	tokens: number;
	/** `performance.now()` of the last refill: a monotonic clock, so a wall-clock jump cannot refill it. */
	refilledAt: number;
}

/** Where a WebSocket upgrade goes: the handler of the opened socket, or a plain HTTP status refusing it. */
export type UpgradeRoute = ((socket: WebSocket) => void) | { refuseStatus: number };

/**
 * The plumbing every service emulator shares: one loopback HTTP server with a WebSocket server on it,
 * delayed REST replies, injected upgrade refusals, accepted-client bookkeeping, auto-step timers and
 * an idempotent shutdown. A subclass supplies only its protocol: REST routes, WebSocket routes, frames.
 */
export abstract class EmulatorServer<Client extends { socket: WebSocket }> {
	readonly port: number;
	abstract readonly stats: EmulatorServerStats;

	protected readonly wss: WebSocketServer;
	/** Accepted connections only; refused sockets are never added. */
	protected readonly clients = new Set<Client>();
	/** Content type of the plain HTTP answer to a refused upgrade. */
	protected readonly upgradeRefusalContentType: string = 'application/json; charset=utf-8';

	private readonly server: Server;
	private readonly stepMs: number;
	private readonly autoStepTimers = new Set<NodeJS.Timeout>();
	private readonly restDelayTimers = new Set<NodeJS.Timeout>();
	private restDelayMs = 0;
	private restFailureStatus: number | null = null;
	private upgradeRefusal: { status: number; retryAfterSeconds?: number } | null = null;
	private restRateLimit: { perSecond: number; burst: number; retryAfterSeconds: number } | null = null;
	private readonly restBuckets = new Map<string, TokenBucket>();
	private closing: Promise<void> | undefined;

	/** Binds a fresh HTTP server to 127.0.0.1 (`port` 0 or absent: a random free port). */
	protected static async listen(port = 0): Promise<ListeningServer> {
		const server = createServer();
		return { server, port: await listenOnLoopback(server, port) };
	}

	// Handlers are attached right after `listen` resolves, before any I/O callback can deliver a request.
	protected constructor({ server, port }: ListeningServer, options: EmulatorServerOptions = {}) {
		this.server = server;
		this.port = port;
		this.stepMs = options.stepMs ?? 0;
		this.wss = new WebSocketServer({ ...options.webSocket, noServer: true });
		if (options.restRateLimit) this.setRestRateLimit(options.restRateLimit);
		server.on('request', (req, res) => this.onHttpRequest(req, res));
		server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
	}

	/** The reply to one REST request; it may read the body. */
	protected abstract route(req: IncomingMessage): Reply | Promise<Reply>;

	/** The service's own 500 envelope, for a route that threw. */
	protected abstract internalErrorReply(error: unknown): Reply;

	/** null: no WebSocket lives at this URL (404). */
	protected abstract routeUpgrade(req: IncomingMessage, url: URL): UpgradeRoute | null;

	/** The body of the plain HTTP answer to a refused upgrade (and of an injected REST failure): the service's error format. */
	protected abstract upgradeRefusalBody(status: number): object;

	/**
	 * The credential a REST request presents, whatever its validity: the key its rate-limit bucket
	 * belongs to. Requests presenting none share the bucket of ''.
	 */
	protected abstract restRateLimitKey(req: IncomingMessage): string;

	/** The service's own 429 answer (without the `Retry-After` header, which the base adds). */
	protected abstract rateLimitedReply(retryAfterSeconds: number): Reply;

	/** Sees every WebSocket upgrade request as it arrives (its headers), before it is routed. */
	onUpgradeRequest: ((req: IncomingMessage) => void) | undefined;

	/** Sees every REST request as it arrives, before it is routed. */
	onRestRequest: ((req: IncomingMessage) => void) | undefined;

	// ----- fault injection ------------------------------------------------------------------------

	/** Kills every WebSocket without a close frame, as a network failure would (client sees 1006). */
	dropAllConnections(): void {
		for (const socket of this.wss.clients) socket.terminate();
	}

	sendRawToAll(text: string): void {
		for (const socket of this.wss.clients) sendText(socket, text);
	}

	/**
	 * Half-open connections, as a dead NAT or a hung server leaves them: every open socket stays
	 * connected at the TCP level, but the server stops reading it (pings go unanswered) and sends
	 * nothing more on it. Frozen sockets no longer count as open connections; they stay until
	 * `terminateFrozenConnections()` or `close()`. Returns how many were frozen.
	 */
	freezeConnections(): number {
		let count = 0;
		for (const socket of this.wss.clients) {
			if (socket.readyState !== WebSocket.OPEN || isFrozen(socket)) continue;
			freezeSocket(socket);
			count += 1;
		}
		return count;
	}

	/** Cuts the TCP connections of the frozen sockets (the server side finally gives up on them). */
	terminateFrozenConnections(): void {
		for (const socket of this.wss.clients) if (isFrozen(socket)) socket.terminate();
	}

	/** Every REST reply is written this much later (the reply is computed when the request arrives). */
	setRestDelayMs(ms: number): void {
		this.restDelayMs = ms;
	}

	/**
	 * Non-null: every REST request is answered with that status and an error body in the service's
	 * format (as a gateway in front of a service that is restarting).
	 */
	setRestFailure(status: number | null): void {
		this.restFailureStatus = status;
	}

	/**
	 * Non-null: each key's REST requests over the limit get 429 with `Retry-After` and the service's
	 * error body; every key starts with a full bucket. null: no limit (the default). WebSocket upgrades
	 * are never limited, and an injected `setRestFailure` answers first without taking a token.
	 */
	setRestRateLimit(limit: RestRateLimit | null): void {
		this.restBuckets.clear();
		if (limit === null) {
			this.restRateLimit = null;
			return;
		}
		const { perSecond, retryAfterSeconds = 1 } = limit;
		if (!Number.isFinite(perSecond) || perSecond <= 0) throw new RangeError(`restRateLimit.perSecond must be a positive number, got ${perSecond}`);
		// Retry-After takes whole seconds (RFC 9110 delay-seconds).
		if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0) {
			throw new RangeError(`restRateLimit.retryAfterSeconds must be a whole number of seconds, got ${retryAfterSeconds}`);
		}
		this.restRateLimit = { perSecond, burst: Math.max(1, perSecond), retryAfterSeconds };
	}

	/** Non-null: every WebSocket upgrade is answered with that plain HTTP status, before the handshake. */
	setRefuseUpgrades(status: number | null, retryAfterSeconds?: number): void {
		this.upgradeRefusal = status === null ? null : { status, retryAfterSeconds };
	}

	/** Stops every timer, kills every socket and closes both servers; safe to call twice. */
	close(): Promise<void> {
		this.closing ??= this.shutdown();
		return this.closing;
	}

	// ----- for subclasses -------------------------------------------------------------------------

	/** Clean close of every socket; `code` must be one `ws` may send (1000–1014 minus 1004–1006, 3000–4999). */
	protected closeOpenSockets(code: number, reason?: string): void {
		for (const socket of this.wss.clients) {
			if (socket.readyState === WebSocket.OPEN && !isFrozen(socket)) socket.close(code, reason);
		}
	}

	/** Counts the client as accepted and keeps it in `clients` until its socket closes. */
	protected acceptClient(client: Client): void {
		this.clients.add(client);
		this.stats.connectionsAccepted += 1;
		client.socket.on('close', () => this.clients.delete(client));
	}

	/** Accepted clients still OPEN (a socket whose close handshake has begun, or a frozen one, no longer counts). */
	protected countOpenClients(matches: (client: Client) => boolean): number {
		let count = 0;
		for (const client of this.clients) {
			if (matches(client) && client.socket.readyState === WebSocket.OPEN && !isFrozen(client.socket)) count += 1;
		}
		return count;
	}

	/** Calls `step` every stepMs until `stopAutoSteps`; undefined when steps are manual or the server is closing. */
	protected startAutoSteps(step: () => void): NodeJS.Timeout | undefined {
		if (this.stepMs <= 0 || this.closing) return undefined;
		const timer = setInterval(step, this.stepMs);
		this.autoStepTimers.add(timer);
		return timer;
	}

	protected stopAutoSteps(timer: NodeJS.Timeout | undefined): void {
		if (timer === undefined) return;
		clearInterval(timer);
		this.autoStepTimers.delete(timer);
	}

	/** Work the service must let finish before its servers close; nothing by default. */
	protected async settleBeforeClose(): Promise<void> {}

	// ----- internals ------------------------------------------------------------------------------

	private async shutdown(): Promise<void> {
		for (const timer of this.autoStepTimers) clearInterval(timer);
		this.autoStepTimers.clear();
		for (const timer of this.restDelayTimers) clearTimeout(timer);
		this.restDelayTimers.clear();
		await this.settleBeforeClose();
		await closeServers(this.wss, this.server);
	}

	private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
		this.stats.restRequests += 1;
		this.onRestRequest?.(req);
		// Via then() so that even a synchronous bug becomes a 500 reply instead of a crash.
		Promise.resolve()
			.then(() => {
				if (this.restFailureStatus !== null) return { status: this.restFailureStatus, body: this.upgradeRefusalBody(this.restFailureStatus) };
				return this.takeRestToken(req) ? this.route(req) : this.refuseOverRateLimit(req);
			})
			.catch((error: unknown) => this.internalErrorReply(error))
			.then((reply) => this.sendAfterDelay(res, reply));
	}

	/** false: the key's bucket is empty (requests refused take no token, so a client that keeps retrying still gets through). */
	private takeRestToken(req: IncomingMessage): boolean {
		const limit = this.restRateLimit;
		if (limit === null) return true;
		const key = this.restRateLimitKey(req);
		const now = performance.now();
		const bucket = this.restBuckets.get(key) ?? { tokens: limit.burst, refilledAt: now };
		bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.refilledAt) / 1000) * limit.perSecond);
		bucket.refilledAt = now;
		this.restBuckets.set(key, bucket);
		if (bucket.tokens < 1) return false;
		bucket.tokens -= 1;
		return true;
	}

	private refuseOverRateLimit(req: IncomingMessage): Reply {
		this.stats.rateLimited += 1;
		// Drain an unread body so the keep-alive connection stays usable for the retry.
		req.resume();
		const retryAfterSeconds = this.restRateLimit?.retryAfterSeconds ?? 1;
		const reply = this.rateLimitedReply(retryAfterSeconds);
		return { ...reply, headers: { ...reply.headers, 'retry-after': String(retryAfterSeconds) } };
	}

	private sendAfterDelay(res: ServerResponse, reply: Reply): void {
		if (this.restDelayMs <= 0) {
			writeReply(res, reply);
			return;
		}
		const timer = setTimeout(() => {
			this.restDelayTimers.delete(timer);
			writeReply(res, reply);
		}, this.restDelayMs);
		this.restDelayTimers.add(timer);
	}

	/** A wrong path is refused before an injected refusal, which comes before the service's own refusals. */
	private onUpgrade(req: IncomingMessage, socket: UpgradeSocket, head: Buffer): void {
		this.onUpgradeRequest?.(req);
		const url = parseRequestUrl(req.url);
		const route = url && this.routeUpgrade(req, url);
		if (!route) {
			this.refuseUpgrade(socket, 404);
		} else if (this.upgradeRefusal) {
			this.refuseUpgrade(socket, this.upgradeRefusal.status, this.upgradeRefusal.retryAfterSeconds);
		} else if (typeof route !== 'function') {
			this.refuseUpgrade(socket, route.refuseStatus);
		} else {
			this.wss.handleUpgrade(req, socket, head, (ws) => {
				// ws closes the connection itself on protocol errors; without a listener the error would crash us.
				ws.on('error', ignoreError);
				route(ws);
			});
		}
	}

	/** Answers the upgrade request with a plain HTTP response, as a proxy or overloaded server would. */
	private refuseUpgrade(socket: UpgradeSocket, status: number, retryAfterSeconds?: number): void {
		this.stats.connectionsRefused += 1;
		const body = JSON.stringify(this.upgradeRefusalBody(status));
		const head = [
			`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`,
			'Connection: close',
			`Content-Type: ${this.upgradeRefusalContentType}`,
			`Content-Length: ${Buffer.byteLength(body)}`,
		];
		if (retryAfterSeconds !== undefined) head.push(`Retry-After: ${retryAfterSeconds}`);
		socket.on('error', () => socket.destroy());
		// Destroy once flushed so a client that never closes cannot keep the server open.
		socket.once('finish', () => socket.destroy());
		socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
	}
}
