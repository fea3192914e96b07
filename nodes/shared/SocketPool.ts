import type { ConnectionHandle, ReconnectingSocketOptions, SocketListener, SocketLogger, SocketState, SocketStats } from './ReconnectingSocket';
import type { SocketFatalError } from './ReconnectingSocket';
import { ReconnectingSocket } from './ReconnectingSocket';

/**
 * One WebSocket per key in an n8n process (service, URL, credential, socket timings), shared by
 * every trigger that uses it.
 *
 * A service counts connections per key (Kurier allows 10), and a company runs many workflows on
 * one key: a socket per trigger would hit that limit and multiply keep-alives and reconnects. So
 * triggers lease a socket from a pool keyed by service, URL, key and socket settings. Each lease
 * behaves, for its trigger, like a socket of its own: `start()` resolves once the connection is
 * ready and the trigger's own `onReady` (subscribe, reconcile) has run; it receives every frame
 * and keeps what is its own; `fail()` ends that lease only; `close()` gives it back, and the last
 * lease out closes the socket. What concerns the connection itself (reconnecting, keep-alive, a
 * refused key, a server's retry-after) stays with the socket and reaches every lease.
 *
 * What a service's triggers must keep together per socket (who follows what) is the service's
 * business: its spec makes a `shared` value with the socket, and every lease hands it out.
 */

export interface PooledSocketSpec<Shared = undefined> {
	options: ReconnectingSocketOptions;
	/** Made once with the socket and handed to every lease of it (see `SocketLease.shared`). */
	shared: Shared;
	/**
	 * Sees every event of the socket before any lease, for as long as the socket lives: state the
	 * socket's own options need (e.g. what the server said before a close) belongs here, not to a
	 * lease that may leave first.
	 */
	socketListener?: SocketListener;
}

export interface LeaseOptions {
	logger?: SocketLogger;
}

interface PoolEntry {
	readonly key: string;
	readonly socket: ReconnectingSocket;
	readonly leases: Set<SocketLease<unknown>>;
	readonly shared: unknown;
	readonly redact: (text: string) => string;
	/** The socket's own start(), shared by every lease that joins before it settles. */
	starting: Promise<void> | null;
}

export class SocketPool {
	private readonly entries = new Map<string, PoolEntry>();

	/** Sockets open (or opening) in this pool, for tests and diagnostics. */
	get size(): number {
		return this.entries.size;
	}

	/**
	 * A lease on the socket for `key`, created with `spec()` when there is none. The key must hold
	 * everything that makes two sockets differ (service, URL, credential, timings); it stays in memory.
	 */
	lease<Shared = undefined>(key: string, spec: () => PooledSocketSpec<Shared>, options: LeaseOptions = {}): SocketLease<Shared> {
		let entry = this.entries.get(key);
		// A socket that closed without leaving the pool (it should not happen) is never handed out again.
		if (entry !== undefined && entry.socket.state === 'closed') {
			this.entries.delete(key);
			entry = undefined;
		}
		if (entry === undefined) {
			const { options: socketOptions, shared, socketListener } = spec();
			const socket = new ReconnectingSocket(socketOptions);
			const created: PoolEntry = { key, socket, leases: new Set(), shared, redact: socketOptions.redact, starting: null };
			if (socketListener) socket.addListener(socketListener);
			// A socket that stopped for good (refused key) leaves the pool: the next lease starts afresh.
			socket.addListener({ onFatal: () => this.forget(created) });
			this.entries.set(key, created);
			entry = created;
		}
		const lease = new SocketLease<Shared>(entry, options, (): Promise<void> => this.release(lease), () => this.forget(entry));
		entry.leases.add(lease);
		return lease;
	}

	private release(lease: SocketLease<unknown>): Promise<void> {
		const entry = lease.entry;
		entry.leases.delete(lease);
		if (entry.leases.size > 0) return Promise.resolve();
		this.forget(entry);
		return entry.socket.close();
	}

	private forget(entry: PoolEntry): void {
		if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
	}
}

/** One trigger's share of a pooled socket. */
export class SocketLease<Shared = undefined> {
	private readonly listeners = new Set<SocketListener>();
	private readonly proxy: SocketListener;
	private readonly removeProxy: () => void;
	private readonly timers = new Set<NodeJS.Timeout>();
	private released = false;
	private closing: Promise<void> | null = null;
	/** The socket connection (its `stats.connections` count) this lease last ran `onReady` for. */
	private readyFor = -1;
	private hadReady = false;
	private pendingStart: { resolve(): void; reject(error: Error): void } | null = null;
	private readyOutcome: Promise<Error | null> = Promise.resolve(null);

	constructor(
		readonly entry: PoolEntry,
		private readonly options: LeaseOptions,
		private readonly giveBack: () => Promise<void>,
		private readonly leavePool: () => void,
	) {
		this.proxy = {
			onReady: async () => await this.runReady(),
			// Per frame: a plain loop, no closure per frame.
			onFrame: (frame) => {
				if (this.released) return;
				for (const listener of this.listeners) listener.onFrame?.(frame);
			},
			onUnparsedFrame: (text) => this.each((listener) => listener.onUnparsedFrame?.(text)),
			onDisconnect: (info) => {
				this.clearTimers();
				this.each((listener) => listener.onDisconnect?.(info));
			},
			onFatal: (error) => this.end(error),
		};
		this.removeProxy = entry.socket.addListener(this.proxy);
	}

	get state(): SocketState {
		return this.released ? 'closed' : this.entry.socket.state;
	}

	get stats(): SocketStats {
		return this.entry.socket.stats;
	}

	/** What the service's triggers keep per socket (the spec's `shared`), the same object for every lease. */
	get shared(): Shared {
		return this.entry.shared as Shared;
	}

	addListener(listener: SocketListener): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/**
	 * Resolves once the socket is connected and this lease's `onReady` has finished; rejects (and
	 * gives the lease back) when the socket cannot start or this lease's `onReady` fails.
	 */
	async start(): Promise<void> {
		if (this.released) return;
		const entry = this.entry;
		const result = new Promise<void>((resolve, reject) => {
			this.pendingStart = { resolve, reject };
		});
		void this.join(entry).then(
			(error) => this.settleStart(error),
			(error: unknown) => this.settleStart(error instanceof Error ? error : new Error(String(error))),
		);
		return await result;
	}

	private async join(entry: PoolEntry): Promise<Error | null> {
		if (entry.starting === null) entry.starting = entry.socket.start();
		try {
			await entry.starting;
		} catch (error) {
			// The socket could not start (a refused key, an unreachable service): every lease waiting on
			// it hears the same, and each trigger's start policy decides what follows.
			this.leavePool();
			return error instanceof Error ? error : new Error(String(error));
		}
		if (this.released) return null;
		const socket = entry.socket;
		if (socket.state === 'open') {
			// Joined an open connection whose listeners were already called: run this lease's onReady here.
			if (this.readyFor !== socket.stats.connections) void this.runReady();
			return await this.readyOutcome;
		}
		// Between reconnects of a connection that was ready before: onReady runs on the next one.
		return null;
	}

	private settleStart(error: Error | null): void {
		const pending = this.pendingStart;
		this.pendingStart = null;
		if (pending === null) return;
		if (error === null || this.released) {
			pending.resolve();
			return;
		}
		void this.close();
		pending.reject(error);
	}

	send(frame: unknown): boolean {
		return !this.released && this.entry.socket.send(frame);
	}

	retryAfter(delayMs: number): void {
		if (!this.released) this.entry.socket.retryAfter(delayMs);
	}

	scheduleOnConnection(delayMs: number, callback: () => void): void {
		if (this.released) return;
		const timer = setTimeout(() => {
			this.timers.delete(timer);
			callback();
		}, delayMs);
		this.timers.add(timer);
	}

	/** Ends this lease only (e.g. its job does not exist): its start rejects, or its listeners hear `onFatal`. */
	fail(error: SocketFatalError): void {
		if (this.released) return;
		this.options.logger?.error(error.message);
		this.end(error);
	}

	/** What no lease can fix for itself (the service refused the credential): ends the socket for all. */
	failConnection(error: SocketFatalError): void {
		if (!this.released) this.entry.socket.fail(error);
	}

	/** Gives the lease back; the last one out closes the socket. Idempotent; never throws. */
	close(): Promise<void> {
		if (this.closing) return this.closing;
		this.released = true;
		this.clearTimers();
		this.removeProxy();
		// Closed while starting (deactivated, or its job already final): a start is not a failure.
		const pending = this.pendingStart;
		this.pendingStart = null;
		pending?.resolve();
		this.closing = this.giveBack();
		return this.closing;
	}

	private async runReady(): Promise<void> {
		const socket = this.entry.socket;
		if (this.released || this.readyFor === socket.stats.connections) return;
		this.readyFor = socket.stats.connections;
		const own: ConnectionHandle = { reconnected: this.hadReady, send: (frame) => this.send(frame) };
		this.hadReady = true;
		this.readyOutcome = (async () => {
			const results = await Promise.allSettled([...this.listeners].map(async (listener) => await listener.onReady?.(own)));
			const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
			if (!failure) return null;
			const error = failure.reason instanceof Error ? failure.reason : new Error(String(failure.reason));
			// After a reconnect one trigger's reconcile failing is not the others' business (the socket logged nothing).
			if (this.pendingStart === null && !this.released) this.options.logger?.warn(`After reconnecting: ${this.entry.redact(error.message)}`);
			return error;
		})();
		await this.readyOutcome;
	}

	/** The socket stopped for good, or this lease failed: start rejects, or the listeners hear it. */
	private end(error: SocketFatalError): void {
		if (this.released) return;
		const pending = this.pendingStart;
		this.pendingStart = null;
		const listeners = [...this.listeners];
		void this.close();
		if (pending) pending.reject(error);
		else for (const listener of listeners) listener.onFatal?.(error);
	}

	private each(deliver: (listener: SocketListener) => void): void {
		if (this.released) return;
		for (const listener of this.listeners) deliver(listener);
	}

	private clearTimers(): void {
		for (const timer of this.timers) clearTimeout(timer);
		this.timers.clear();
	}
}

/** The pool every trigger of this package shares in one n8n process (module state lives as long as n8n). */
export const sharedSockets = new SocketPool();
